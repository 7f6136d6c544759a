"""A model's outputs on a split of a data set, held so that the outputs of several models can be pooled before
they are scored (the out-of-fold predictions of a cross-validated run, each image predicted by the model that never
saw it). Each
task makes and scores them (:meth:`~medlib.tasks.base.Task.outputs`, :meth:`~medlib.tasks.base.Task.score`):
what the card records after training and what ``medlib evaluate`` prints, by one pair of methods for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.preprocessing.pipeline import Processed
from medlib.scoring.calibration import Calibration
from medlib.scoring.candidates import candidate_scores, scaled
from medlib.scoring.probabilities import as_probabilities
from medlib.targets import Finding, move_findings


@dataclass
class SplitOutputs:
    """A model's outputs on some images of a data set, ready to be scored (or pooled with another model's)."""

    index: np.ndarray
    raw: np.ndarray | None = None
    """A classifier's outputs (one row an image)."""
    truths: list[np.ndarray] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)
    fovs: list[np.ndarray | None] = field(default_factory=list)
    candidates: dict[str, list[list[Finding]]] = field(default_factory=dict)
    """A locating model's candidates per finding label, one list an image, at the model's input (a heat-map
    classifier's: scored by the heat at their peak, 0..1, until :func:`score_outputs` weighs them by the image's
    probability)."""
    findings: dict[str, list[list[Finding]]] = field(default_factory=dict)
    """The findings per label, one list an image, moved to the model's input."""
    spacing: float | None = None
    """mm a pixel at the model's input, where the data set says."""

    def peaks(self) -> np.ndarray:
        """Each image's best candidate score, over every label (0 where it has none)."""
        best = [0.0] * self.index.size
        for found in self.candidates.values():
            best = [max([b, *(c.score for c in image)]) for b, image in zip(best, found, strict=True)]
        return np.asarray(best)

    def scored(self, label: str, image_calibration: Calibration | None = None) -> list[list[Finding]]:
        """The candidates of ``label`` on each image with the scores a user sees: a heat-map classifier's weighed by
        the image's probability, a locating model's calibrated by ``image_calibration`` where given."""
        found = self.candidates[label]
        if self.raw is not None:
            return [scaled(c, p) for c, p in zip(found, as_probabilities(self.raw)[:, 1], strict=True)]
        if image_calibration is None:
            return found
        return [[replace(c, score=float(image_probability(image_calibration, [c.score])[0])) for c in image]
                for image in found]

    def holds(self) -> np.ndarray:
        """Whether each image holds a finding."""
        counts = np.zeros(self.index.size, int)
        for found in self.findings.values():
            counts += np.array([len(image) for image in found])
        return counts > 0


def pool(parts: Sequence[SplitOutputs]) -> SplitOutputs:
    """The outputs of several models on disjoint images as one (the images in the parts' order)."""
    first = parts[0]
    return SplitOutputs(
        np.concatenate([p.index for p in parts]),
        None if first.raw is None else np.concatenate([p.raw for p in parts]),
        [t for p in parts for t in p.truths], [m for p in parts for m in p.maps], [f for p in parts for f in p.fovs],
        {label: [c for p in parts for c in p.candidates[label]] for label in first.candidates},
        {label: [f for p in parts for f in p.findings[label]] for label in first.findings}, first.spacing)


def locate_on(out: SplitOutputs, dataset: Dataset, i: int, processed: Processed,
              found: dict[str, list[Finding]]) -> None:
    """Add image ``i``'s candidates (``found`` per label, at the model's input) and its findings of each label, moved
    to the model's input by the preprocessing's record, to ``out``."""
    if dataset.spacing is not None:
        out.spacing = dataset.spacing[0] / processed.geometry.record.factor()
    moved = move_findings(dataset.findings[i], processed.geometry.record, dataset.images[i].shape)
    for label, candidates in found.items():
        out.candidates.setdefault(label, []).append(candidates)
        out.findings.setdefault(label, []).append([f for f in moved if f.label == label])


def add_detection(metrics: dict[str, Any], outputs: SplitOutputs, seed: int = 0) -> dict[str, Any]:
    """``metrics`` with the candidates of ``outputs`` scored against its findings (:mod:`medlib.scoring.candidates`),
    under ``detection`` per finding label (and, for one label, at the top, as the field reports them)."""
    candidates = {label: outputs.scored(label) for label in outputs.candidates}  # FROC ranks alike, calibrated or not
    if not candidates:
        return metrics
    metrics["detection"] = {label: candidate_scores(candidates[label], outputs.findings[label], outputs.spacing,
                                                    seed=seed) for label in candidates}
    if len(metrics["detection"]) == 1:
        metrics |= {k: v for k, v in next(iter(metrics["detection"].values())).items() if k not in metrics}
    return metrics


def image_probability(image_calibration: Calibration, scores: np.ndarray) -> np.ndarray:
    """The calibrated probability that an image holds a finding, from its best candidate's score (or a
    candidate's own score: the probability were it the image's best)."""
    scores = np.clip(np.asarray(scores, np.float64), 1e-6, 1 - 1e-6)
    return image_calibration.probabilities(np.log(scores / (1 - scores))[:, None])[:, 1]
