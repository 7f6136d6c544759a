"""How a model of each task is scored on a split of a data set: what the card records after training and what
``medlib evaluate`` prints, by one function for both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medlib.candidates import candidate_scores, find_candidates
from medlib.datasets import Dataset
from medlib.evaluation import classifier_scores
from medlib.prediction import predict, segment_maps
from medlib.preprocess import Pipeline
from medlib.segmentation import predict_tiled, split_metrics
from medlib.targets import move_findings
from medlib.tasks import Task, finding_labels


def task_scores(task: Task, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                mirrors: Sequence[tuple[int, ...]] = ((),), threshold: float = 0.5, seed: int = 0,
                class_labels: np.ndarray | None = None) -> dict[str, Any]:
    """The metrics of ``model`` on the images at ``index``, with 95% bootstrap intervals.

    A classifier: its metrics at ``threshold`` (binary), calibration error and Brier score (``class_labels``: the
    labels as the model's class indices, where they differ from the data set's). A map model: Dice, IoU,
    sensitivity, specificity, HD95 and pixel AUC per structure and their mean (its maps averaged over the
    ``mirrors`` it was trained with). A locating model also as candidates against the findings
    (:mod:`medlib.candidates`), under ``detection``.
    """
    if not task.dense:
        labels = dataset.labels[index] if class_labels is None else class_labels
        return classifier_scores(labels, predict(model, dataset, index, pipeline), threshold, seed=seed)
    training = task.training_set(dataset)
    metrics = split_metrics(*segment_maps(model, training, index, pipeline, mirrors), seed=seed,
                            structures=training.structures)
    if task.from_findings:
        metrics["detection"] = detection_scores(model, dataset, index, pipeline, mirrors, seed)
    return metrics


def detection_scores(model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                     mirrors: Sequence[tuple[int, ...]] = ((),), seed: int = 0) -> dict[str, Any]:
    """A locating model's candidates against the findings of the images at ``index``, per finding label, both at
    the model's input (the findings moved there by the preprocessing's record)."""
    labels = finding_labels(dataset)
    candidates: dict[str, list] = {label: [] for label in labels}
    truths: dict[str, list] = {label: [] for label in labels}
    for i in index:
        processed = pipeline.run(dataset.images[i])
        maps = predict_tiled(model, processed.image, mirrors=mirrors)
        moved = move_findings(dataset.findings[i], processed.geometry.record, dataset.images[i].shape)
        for k, label in enumerate(labels):
            candidates[label].append(find_candidates(maps[..., k]))
            truths[label].append([f for f in moved if f.label == label])
    return {label: candidate_scores(candidates[label], truths[label], seed=seed) for label in labels}
