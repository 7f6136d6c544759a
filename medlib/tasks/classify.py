"""``classify``: one class per image (a label), cross-entropy, watched by the validation AUC. A two-class classifier
of a set that locates findings of its positive class places them by its heat map (its candidates: the heat map's
peaks, scored by the image's probability times the heat there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.models.architectures import dense_head, features_model
from medlib.models.heatmaps import heatmaps
from medlib.models.losses import classification_loss
from medlib.models.predict import predict, predict_batches
from medlib.preprocessing.pipeline import Pipeline, Processed
from medlib.scoring.calibration import Calibration, calibrate_classifier, fold_into
from medlib.scoring.candidates import HEAT_FLOOR, find_candidates, scaled
from medlib.scoring.classification import classifier_scores, metric_table
from medlib.scoring.per_image import log_losses
from medlib.scoring.probabilities import as_probabilities, auc_per_image
from medlib.scoring.splits import SplitOutputs, add_detection, locate_on
from medlib.targets import Finding
from medlib.tasks.base import AnsweringModel, Task


@dataclass(frozen=True)
class Classify(Task):
    name = "classify"
    title = "classification"
    needs = "class labels"
    watched = "val_auc"
    gate_signal = "features"
    default_model = "resnet-small"
    loss = "cross-entropy (binary for two classes), classes balanced by weight"
    scored_by = "accuracy, sensitivity, specificity, PPV, NPV, F1 and AUC at the validation threshold, ECE, Brier"
    view = "classification"

    def has_targets(self, dataset: Dataset) -> bool:
        return dataset.labels is not None

    def target_names(self, dataset: Dataset) -> list[str]:
        return list(dataset.class_names)

    def structures(self, names: Sequence[str]) -> list[str]:
        return []

    def positive_class(self, names: Sequence[str]) -> str:
        return names[1] if len(names) == 2 else ""

    def located_by(self, dataset: Dataset, names: Sequence[str]) -> str:
        return "heat map" if len(names) == 2 and names[1] in dataset.finding_labels() else ""

    def finding(self, dataset: Dataset) -> str:
        names = self.target_names(dataset)
        return names[1] if self.located_by(dataset, names) else ""

    def describe_targets(self, count: int) -> str:
        return f"{count} classes"

    def explains(self) -> bool:
        return True

    def loss_function(self, num_classes: int, smoothing: float = 0.0, soft_targets: bool = False) -> Any:
        return classification_loss(num_classes, smoothing, soft_targets)

    def class_weight(self, labels: np.ndarray, num_classes: int, rule: str) -> dict[int, float] | None:
        if rule != "balanced":
            return None
        counts = np.bincount(labels, minlength=num_classes).astype(float)
        present = counts > 0
        return {k: float(labels.size / (present.sum() * counts[k])) if counts[k] else 0.0 for k in range(num_classes)}

    def mixes(self, mixup: float) -> bool:
        return mixup > 0

    def fits_input(self, model_input: tuple[int, ...], expected: tuple[int, ...]) -> bool:
        return tuple(model_input) == tuple(expected)

    def sample(self, dataset: Dataset, i: int, pipeline: Pipeline) -> tuple[np.ndarray, np.ndarray]:
        image, _ = pipeline.apply(dataset.images[i])
        return image.astype(np.float32), np.float32(dataset.labels[i])

    def target_shape(self, image_shape: tuple[int, ...]) -> tuple[int, ...]:
        return ()

    def validation_inputs(self, make: Any) -> Any:
        return make()

    def validation_scores(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                          val_inputs: Any, logs: dict[str, Any]) -> np.ndarray:
        """The validation AUC, compared image by image (DeLong's placement values), and the log-loss only where
        the AUC is undefined. The log-loss also rises as a settled model grows more confident, which tells
        nothing about its decisions: on PneumoniaMNIST it judged the last epochs measurably worse in 9 runs of
        23, and the earlier epochs it kept were never better on test."""
        outputs = predict_batches(model, val_inputs)
        labels = dataset.labels[index]
        metrics = metric_table(labels, outputs)
        logs.update({f"val_{k}": v for k, v in metrics.items() if k != "n" and v is not None})
        losses = log_losses(labels, outputs)
        logs["val_loss"] = float(np.mean(losses))
        shares = auc_per_image(labels, outputs)
        return -losses if shares is None else shares

    def outputs(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                mirrors: Sequence[tuple[int, ...]] = ((),), finding: str = "") -> SplitOutputs:
        """The output rows; given the ``finding`` it locates, the candidates of its heat map for class 1 (scored by
        the heat at their peak, 0..1, until :meth:`SplitOutputs.scored` weighs them by the image's probability)."""
        out = SplitOutputs(index, raw=predict(model, dataset, index, pipeline))
        labels = [finding] if finding and dataset.findings is not None else []
        out.candidates, out.findings = {label: [] for label in labels}, {label: [] for label in labels}
        for i in index if labels else ():
            processed = pipeline.run(dataset.images[i])
            heat = heatmaps(model, processed.image[None], 1)[0][..., None]
            locate_on(out, dataset, i, processed, {finding: find_candidates(heat[..., 0], HEAT_FLOOR, label=finding)})
        return out

    def labels(self, dataset: Dataset, index: np.ndarray, class_labels: np.ndarray | None = None) -> np.ndarray:
        return dataset.labels[index] if class_labels is None else class_labels

    def score(self, outputs: SplitOutputs, labels: np.ndarray | None = None, threshold: float = 0.5,
              structures: Sequence[str] | None = None, image_calibration: Calibration | None = None,
              seed: int = 0) -> dict[str, Any]:
        """Its metrics at ``threshold`` (binary), calibration error and Brier score against ``labels`` (as the
        model's class indices), and its heat map's candidates against the findings where it locates them."""
        return add_detection(classifier_scores(labels, outputs.raw, threshold, seed=seed), outputs, seed)

    def logits(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline) -> np.ndarray:
        """The logits (the input of its output activation) for the images at ``index``."""
        kernel, bias = (np.asarray(w) for w in dense_head(model).get_weights())
        return predict(features_model(model), dataset, index, pipeline) @ kernel + bias

    def calibrate(self, model: Any, dataset: Dataset, parts: list[SplitOutputs], logits: list[np.ndarray | None],
                  where: str, emit: Any) -> tuple[Any, dict[str, Any], Calibration | None]:
        labels = dataset.labels[np.concatenate([p.index for p in parts])]
        emit({"event": "calibrate", "val": int(labels.size)})
        calibration, chosen = calibrate_classifier(labels, np.concatenate(logits), where)
        for part, part_logits in zip(parts, logits, strict=True):
            part.raw = calibration.probabilities(part_logits)
        return fold_into(model, calibration), chosen, None

    def gate_vectors(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                     mirrors: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:
        """The classifier's feature vectors."""
        return predict(features_model(model), dataset, index, pipeline)

    def candidates(self, loaded: AnsweringModel, processed: Processed) -> list[Finding]:
        """The peaks of its heat map for its finding, scored by the image's probability times the heat there."""
        if loaded.card.located_by != "heat map":
            return []
        batch = processed.image[None]
        probability = float(as_probabilities(np.asarray(loaded.model.predict_on_batch(batch)))[0, 1])
        heat = heatmaps(loaded.model, batch, 1)[0]
        return scaled(find_candidates(heat, HEAT_FLOOR, label=loaded.card.finding), probability)


CLASSIFY = Classify()
