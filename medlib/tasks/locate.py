"""``locate``: located findings (points with a radius, or boxes), learned as maps of disks or boxes, one per finding
label (a probability map, as CAD systems for nodules do), scored as candidates: each connected region of the map is
one, at its peak, with its score, calibrated as the probability that its image holds a finding."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.models.losses import map_loss
from medlib.models.predict import sliding_window
from medlib.preprocessing.pipeline import Processed
from medlib.scoring.calibration import Calibration, fit_calibration
from medlib.scoring.per_image import detection_per_image
from medlib.scoring.splits import SplitOutputs, image_probability, pool
from medlib.scoring.thresholds import STABLE_RULE, stable_threshold
from medlib.targets import Finding, render_findings
from medlib.tasks.base import AnsweringModel
from medlib.tasks.maps import MapTask


@dataclass(frozen=True)
class Locate(MapTask):
    name = "locate"
    title = "localization"
    needs = "located findings (points or boxes)"
    watched = "val_detection"
    loss = "the batch's Dice + focal cross-entropy over maps of the findings (a disk per point, a box per box)"
    scored_by = ("candidates from the map: sensitivity at 0.5, 1, 2 and 4 false positives per image, and the "
                 "image-level AUC of the best candidate's score")
    view = "localization"
    prior = 0.01

    def has_targets(self, dataset: Dataset) -> bool:
        return dataset.findings is not None and any(dataset.findings)

    def training_set(self, dataset: Dataset) -> Dataset:
        """``dataset`` with its findings drawn as a label map in ``masks`` (a disk per point, a filled box per box,
        one value per finding label)."""
        labels = dataset.finding_labels()
        maps = np.stack([render_findings(found, dataset.image_size, labels) for found in dataset.findings])
        return dataclasses.replace(dataset, masks=maps, structures=labels)

    def located(self, dataset: Dataset) -> list[str]:
        return dataset.finding_labels()

    def located_by(self, dataset: Dataset, names: Sequence[str]) -> str:
        return "map"

    def loss_function(self, num_classes: int, smoothing: float = 0.0, soft_targets: bool = False) -> Any:
        return map_loss(over_batch=True, focal=True)

    def watched_scores(self, maps: tuple[list, list, list], dice: np.ndarray, logs: dict[str, Any]) -> np.ndarray:
        """How far the finding's peak stands above the strongest false one
        (:func:`medlib.scoring.per_image.detection_per_image`): the Dice of small disks is mostly that of the films
        without any, and says little of where the model points."""
        scores = detection_per_image(*maps[:2])
        logs["val_detection"] = float(np.mean(scores))
        return scores

    def calibrate(self, model: Any, dataset: Dataset, parts: list[SplitOutputs], logits: list[np.ndarray | None],
                  where: str, emit: Any) -> tuple[Any, dict[str, Any], Calibration | None]:
        """The image-level calibration and threshold, from the validation outputs: the probability that an image
        holds a finding from its best candidate's score (Platt scaling of its logit), and the threshold on it (each
        candidate's score is read on the same scale: the probability were it the image's best). Nothing where the
        validation images do not hold both images with and without findings."""
        outputs = pool(parts)
        holds = outputs.holds()
        if not 0 < holds.sum() < holds.size:
            return model, {}, None
        scores = np.clip(outputs.peaks(), 1e-6, 1 - 1e-6)
        peak_logits = np.log(scores / (1 - scores))[:, None]
        calibration = fit_calibration(holds.astype(int), peak_logits)
        value = stable_threshold(holds.astype(int), calibration.probabilities(peak_logits)[:, 1])
        chosen = {"calibration": calibration.to_dict() | {
                      "fitted_on": where, "applies_to": "a candidate's score, as the probability that its image "
                                                        "holds a finding were it the image's best candidate"},
                  "threshold": {"value": value, "chosen_on": where, "rule": STABLE_RULE,
                                "applies_to": "the calibrated probability of each candidate and of the image"}}
        return model, chosen, calibration

    def image_calibration(self, calibration: dict[str, Any] | None) -> Calibration | None:
        return Calibration.from_dict(calibration) if calibration else None

    def candidates(self, loaded: AnsweringModel, processed: Processed) -> list[Finding]:
        """The peaks of each finding label's map, scored by their calibrated probability where the card has it."""
        maps = sliding_window(loaded.model, processed.image, mirrors=loaded.mirrors)
        calibration = loaded.image_calibration
        found = sorted((c for each in self.find(maps, loaded.card.structures).values() for c in each),
                       key=lambda c: -(c.score or 0.0))
        if calibration is None:
            return found
        return [replace(c, score=float(image_probability(calibration, [c.score])[0])) for c in found]


LOCATE = Locate()
