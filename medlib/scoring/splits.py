"""How a model of each task is scored on a split of a data set: what the card records after training and what
``medlib evaluate`` prints, by one pair of functions for both.

Scoring goes in two steps, so that the outputs of several models can be pooled before they are scored (the
out-of-fold predictions of a cross-validated run, each image predicted by the model that never saw it):
:func:`split_outputs` runs a model over images, :func:`score_outputs` scores what it gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.models.heatmaps import heatmaps
from medlib.models.predict import predict
from medlib.preprocessing.pipeline import Pipeline
from medlib.scoring.calibration import Calibration
from medlib.scoring.candidates import FLOOR, HEAT_FLOOR, Candidate, candidate_scores, find_candidates, scaled
from medlib.scoring.classification import ECE_BINS, calibration, classifier_scores
from medlib.scoring.probabilities import as_probabilities
from medlib.scoring.segmentation import predict_tiled, split_metrics
from medlib.targets import Finding, move_findings
from medlib.tasks import Task, finding_labels


@dataclass
class SplitOutputs:
    """A model's outputs on some images of a data set, ready to be scored (or pooled with another model's)."""

    index: np.ndarray
    raw: np.ndarray | None = None
    """A classifier's outputs (one row an image)."""
    truths: list[np.ndarray] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)
    fovs: list[np.ndarray | None] = field(default_factory=list)
    candidates: dict[str, list[list[Candidate]]] = field(default_factory=dict)
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

    def scored(self, label: str, image_calibration: Calibration | None = None) -> list[list[Candidate]]:
        """The candidates of ``label`` on each image with the scores a user sees: a heat-map classifier's weighed by
        the image's probability, a locating model's calibrated by ``image_calibration`` where given."""
        found = self.candidates[label]
        if self.raw is not None:
            return [scaled(c, p) for c, p in zip(found, as_probabilities(self.raw)[:, 1], strict=True)]
        if image_calibration is None:
            return found
        return [[Candidate(c.centre, c.radius, float(image_probability(image_calibration, [c.score])[0]))
                 for c in image] for image in found]

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


def split_outputs(task: Task, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                  mirrors: Sequence[tuple[int, ...]] = ((),), heat_label: str = "") -> SplitOutputs:
    """The model's outputs on the images at ``index``: a classifier's output rows (and, given the ``heat_label`` of
    its finding, the candidates of its heat map for class 1); a map model's maps (averaged over the ``mirrors`` it
    was trained with) with the reference maps and fields of view; a locating model's candidates too. Findings are
    moved to the model's input by the preprocessing's record."""
    out = SplitOutputs(index)
    if not task.dense:
        out.raw = predict(model, dataset, index, pipeline)
        labels = [heat_label] if heat_label and dataset.findings is not None else []
    else:
        training = task.training_set(dataset)
        labels = finding_labels(dataset) if task.from_findings else []
    out.candidates, out.findings = {label: [] for label in labels}, {label: [] for label in labels}
    if not task.dense and not labels:
        return out
    for i in index:
        processed = pipeline.run(dataset.images[i], None if not task.dense else training.masks[i])
        if task.dense:
            maps = predict_tiled(model, processed.image, mirrors=mirrors)
            out.truths.append(processed.mask)
            out.maps.append(maps)
            out.fovs.append(None if dataset.fov is None else pipeline.apply(dataset.images[i], dataset.fov[i])[1])
        else:
            maps = heatmaps(model, processed.image[None], 1)[0][..., None]
        if dataset.spacing is not None:
            out.spacing = dataset.spacing[0] / processed.geometry.record.factor()
        moved = move_findings(dataset.findings[i], processed.geometry.record, dataset.images[i].shape) \
            if labels else []
        for k, label in enumerate(labels):
            floor = FLOOR if task.dense else HEAT_FLOOR
            out.candidates[label].append(find_candidates(maps[..., k], floor))
            out.findings[label].append([f for f in moved if f.label == label])
    return out


def score_outputs(task: Task, outputs: SplitOutputs, labels: np.ndarray | None = None, threshold: float = 0.5,
                  structures: Sequence[str] | None = None, image_calibration: Calibration | None = None,
                  seed: int = 0) -> dict[str, Any]:
    """The metrics of ``outputs``, with 95% bootstrap intervals.

    A classifier: its metrics at ``threshold`` (binary), calibration error and Brier score, against ``labels``
    (as the model's class indices). A map model: Dice, IoU, sensitivity, specificity, HD95 and pixel AUC per
    structure (named by ``structures``) and their mean. A locating model also as candidates against the findings
    (:mod:`medlib.scoring.candidates`), under ``detection`` per finding label, with the image-level probability's
    calibration error where ``image_calibration`` gives that probability.
    """
    candidates = {label: outputs.scored(label) for label in outputs.candidates}  # FROC ranks alike, calibrated or not
    if not task.dense:
        metrics = classifier_scores(labels, outputs.raw, threshold, seed=seed)
    else:
        metrics = split_metrics(outputs.truths, outputs.maps, outputs.fovs, seed=seed, structures=structures)
        names = list(structures or ["foreground"])
        each = metrics.get("per_structure") or {names[0]: metrics}
        for name in ("dice", "hd95"):
            metrics[f"{name}_per_structure"] = {structure: values[name] for structure, values in each.items()}
    if candidates:
        metrics["detection"] = {label: candidate_scores(candidates[label], outputs.findings[label], outputs.spacing,
                                                        seed=seed) for label in candidates}
        if len(metrics["detection"]) == 1:  # one kind of finding: its figures at the top, as the field reports them
            metrics |= {k: v for k, v in next(iter(metrics["detection"].values())).items() if k not in metrics}
        if task.dense and image_calibration is not None:
            stated = image_probability(image_calibration, outputs.peaks())
            reliability = calibration(outputs.holds().astype(int), np.stack([1 - stated, stated], axis=1),
                                      bins=ECE_BINS)
            metrics["image_ece"], metrics["image_brier"] = reliability["ece"], reliability.get("brier")
    return metrics


def image_probability(image_calibration: Calibration, scores: np.ndarray) -> np.ndarray:
    """The calibrated probability that an image holds a finding, from its best candidate's score (or a
    candidate's own score: the probability were it the image's best)."""
    scores = np.clip(np.asarray(scores, np.float64), 1e-6, 1 - 1e-6)
    return image_calibration.probabilities(np.log(scores / (1 - scores))[:, None])[:, 1]


def task_scores(task: Task, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                mirrors: Sequence[tuple[int, ...]] = ((),), threshold: float = 0.5, seed: int = 0,
                class_labels: np.ndarray | None = None, image_calibration: Calibration | None = None,
                heat_label: str = "") -> dict[str, Any]:
    """:func:`score_outputs` of :func:`split_outputs` (``class_labels``: the labels as the model's class indices,
    where they differ from the data set's)."""
    outputs = split_outputs(task, model, dataset, index, pipeline, mirrors, heat_label)
    labels = (dataset.labels[index] if class_labels is None else class_labels) if not task.dense else None
    return score_outputs(task, outputs, labels, threshold, task.training_set(dataset).structures if task.dense
                         else None, image_calibration, seed)
