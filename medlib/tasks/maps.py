"""What the map tasks share (``segment`` and ``locate``): models that answer with one sigmoid map per structure or
finding label, trained on label maps moved with the image, validated on whole images (in tiles where the model
sees patches), scored per structure, and gated by the shape of their foreground."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.datasets.partial import UNKNOWN
from medlib.gate.profile import mask_statistics
from medlib.models.losses import map_loss
from medlib.models.predict import segment_maps, sliding_window
from medlib.preprocessing.pipeline import Pipeline
from medlib.scoring.calibration import Calibration
from medlib.scoring.candidates import FLOOR, find_candidates
from medlib.scoring.classification import ECE_BINS, calibration
from medlib.scoring.per_image import dice_per_image, segmentation_losses
from medlib.scoring.segmentation import foreground, split_metrics
from medlib.scoring.splits import SplitOutputs, add_detection, image_probability, locate_on
from medlib.targets import Finding
from medlib.tasks.base import Task


@dataclass(frozen=True)
class MapTask(Task):
    """A task whose models answer with maps."""

    gate_signal = "shape"
    default_model = "unet"
    _maps = True

    def located(self, dataset: Dataset) -> list[str]:
        """The finding labels whose maps are searched for candidates (none for a segmenter)."""
        return []

    def find(self, maps: np.ndarray, labels: Sequence[str]) -> dict[str, list[Finding]]:
        """The candidates of each finding label on one image's ``maps`` (at the model's input), best first: the
        connected regions of its map (:func:`medlib.scoring.candidates.find_candidates`)."""
        return {label: find_candidates(maps[..., k], FLOOR, label=label) for k, label in enumerate(labels)}

    def loss_function(self, num_classes: int, smoothing: float = 0.0, soft_targets: bool = False) -> Any:
        return map_loss()

    def sample(self, dataset: Dataset, i: int, pipeline: Pipeline) -> tuple[np.ndarray, np.ndarray]:
        image, mask = pipeline.apply(dataset.images[i], dataset.masks[i])
        return image.astype(np.float32), mask.astype(np.float32)

    def target_shape(self, image_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(image_shape[:2])

    def encode(self, targets: Any, num_outputs: int) -> Any:
        """One 0/1 map per structure, the background left out (each structure's map is a sigmoid); -1 where the
        label map does not say whether a pixel is of the structure (:mod:`medlib.datasets.partial`): the loss
        leaves those pixels out of that map."""
        import tensorflow as tf

        values = tf.cast(tf.round(targets), tf.int32)
        known = values < UNKNOWN
        maps = tf.one_hot(tf.where(known, values, 0), num_outputs)[..., 1:]
        bits = tf.where(known, 0, values - UNKNOWN)[..., None]
        unknown = tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits, tf.range(num_outputs - 1)), 1) > 0
        return tf.where(unknown, -1.0, maps)

    def validation_scores(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                          val_inputs: Any, logs: dict[str, Any]) -> np.ndarray:
        """The Dice of whole validation images (in tiles where the model sees patches)."""
        maps = segment_maps(model, dataset, index, pipeline)
        scores = dice_per_image(*maps)
        logs["val_dice"] = float(np.mean(scores))
        logs["val_loss"] = float(np.mean(segmentation_losses(*maps[:2])))
        return self.watched_scores(maps, scores, logs)

    def watched_scores(self, maps: tuple[list, list, list], dice: np.ndarray, logs: dict[str, Any]) -> np.ndarray:
        """The per-image scores that keep the best epoch, from the validation ``maps`` and their ``dice``."""
        return dice

    def outputs(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                mirrors: Sequence[tuple[int, ...]] = ((),), finding: str = "") -> SplitOutputs:
        """The maps (averaged over the ``mirrors`` the model was trained with), the reference maps and fields of
        view; a locating model's candidates and findings too (moved to the model's input by the record)."""
        training, labels = self.training_set(dataset), self.located(dataset)
        out = SplitOutputs(index)
        out.candidates, out.findings = {label: [] for label in labels}, {label: [] for label in labels}
        for i in index:
            processed = pipeline.run(dataset.images[i], training.masks[i])
            maps = sliding_window(model, processed.image, mirrors=mirrors)
            out.truths.append(processed.mask)
            out.maps.append(maps)
            out.fovs.append(None if dataset.fov is None else pipeline.apply(dataset.images[i], dataset.fov[i])[1])
            if labels:
                locate_on(out, dataset, i, processed, self.find(maps, labels))
            elif dataset.spacing is not None:
                out.spacing = dataset.spacing[0] / processed.geometry.record.factor()
        return out

    def score(self, outputs: SplitOutputs, labels: np.ndarray | None = None, threshold: float = 0.5,
              structures: Sequence[str] | None = None, image_calibration: Calibration | None = None,
              seed: int = 0) -> dict[str, Any]:
        """Dice, IoU, sensitivity, specificity, HD95 and pixel AUC per structure (named by ``structures``) and their
        mean; a locating model's candidates against the findings, with the image-level probability's calibration
        error where ``image_calibration`` gives that probability."""
        metrics = split_metrics(outputs.truths, outputs.maps, outputs.fovs, seed=seed, structures=structures)
        names = list(structures or ["foreground"])
        each = metrics.get("per_structure") or {names[0]: metrics}
        for name in ("dice", "hd95"):
            metrics[f"{name}_per_structure"] = {structure: values[name] for structure, values in each.items()}
        metrics = add_detection(metrics, outputs, seed)
        return with_image_reliability(metrics, outputs, image_calibration)

    def gate_vectors(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                     mirrors: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:
        """The statistics of the model's foreground (:func:`medlib.gate.profile.mask_statistics`)."""
        return np.stack([mask_statistics(foreground(self.probability_maps(sliding_window(
            model, pipeline.apply(dataset.images[i])[0], mirrors=mirrors)))) for i in index])

    def probability_maps(self, maps: np.ndarray) -> np.ndarray:
        """The channels of a model's maps that are probabilities per pixel (all of them, but a detector's radii)."""
        return maps


def with_image_reliability(metrics: dict[str, Any], outputs: SplitOutputs,
                           image_calibration: Calibration | None) -> dict[str, Any]:
    """``metrics`` with the calibration error and Brier score of the image-level probability (from each image's best
    candidate, by ``image_calibration``), where a locating model has both."""
    if outputs.candidates and image_calibration is not None:
        stated = image_probability(image_calibration, outputs.peaks())
        reliability = calibration(outputs.holds().astype(int), np.stack([1 - stated, stated], axis=1), bins=ECE_BINS)
        metrics["image_ece"], metrics["image_brier"] = reliability["ece"], reliability.get("brier")
    return metrics
