"""Per-image validation scores and losses, and whether one epoch is measurably worse than another (which epoch
a run keeps, :mod:`medlib.training.monitor`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medlib.scoring.probabilities import as_probabilities
from medlib.scoring.segmentation import mask_metrics, structure_pairs


def segmentation_losses(truths: Sequence[np.ndarray], probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """Each image's training loss (binary cross-entropy plus soft Dice loss, as in training, averaged over the
    structures) from its reference label map and predicted probability maps.

    >>> segmentation_losses([np.ones((2, 2))], [np.ones((2, 2))]).round(4).tolist()
    [0.0]
    """
    losses = []
    for truth, probability in zip(truths, probabilities, strict=True):
        per_structure = []
        for mask, structure in filter(None, structure_pairs(truth, probability)):
            t, p = mask.astype(np.float64), np.clip(np.asarray(structure, np.float64), 1e-7, 1 - 1e-7)
            bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
            per_structure.append(bce + 1.0 - (2.0 * np.sum(t * p) + 1.0) / (np.sum(t + p) + 1.0))
        losses.append(float(np.mean(per_structure)))
    return np.array(losses)


def detection_per_image(truths: Sequence[np.ndarray], probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """Each image's detection score (-1..1, higher better) from its findings' drawn map and the predicted maps'
    largest: on an image with a finding, the peak inside the findings less the strongest peak outside them; on one
    without, minus its strongest peak.

    >>> truth = np.zeros((4, 4)); truth[0, 0] = 1
    >>> found = np.full((4, 4), 0.1); found[0, 0] = 0.9
    >>> detection_per_image([truth, np.zeros((4, 4))], [found, np.full((4, 4), 0.2)]).round(2).tolist()
    [0.8, -0.2]
    """
    scores = []
    for truth, probability in zip(truths, probabilities, strict=True):
        probability = np.asarray(probability, np.float64)
        peak = probability if probability.ndim == 2 else probability.max(axis=-1)
        inside = np.asarray(truth) > 0
        outside = float(peak[~inside].max()) if (~inside).any() else 0.0
        scores.append(float(peak[inside].max()) - outside if inside.any() else -outside)
    return np.array(scores)


def dice_per_image(truths: Sequence[np.ndarray], probabilities: Sequence[np.ndarray],
                   fovs: Sequence[np.ndarray | None]) -> np.ndarray:
    """Each image's Dice of its probability maps against its reference label map (inside its field of view),
    averaged over the structures it labels."""
    return np.array([np.mean([mask_metrics(mask, structure, fov=f)["dice"]
                              for mask, structure in filter(None, structure_pairs(t, p))])
                     for t, p, f in zip(truths, probabilities, fovs, strict=True)])


def not_measurably_worse(scores: np.ndarray, best: np.ndarray, z: float = 2.0) -> bool:
    """Whether per-image validation ``scores`` (higher is better) are within noise of the ``best`` epoch's:
    their mean is less than ``z`` standard errors of the paired per-image differences below (about a 95%
    one-sided test for the default 2).

    >>> not_measurably_worse(np.array([0.8, 0.9, 0.7]), np.array([0.9, 0.8, 0.8]))
    True
    >>> not_measurably_worse(np.array([0.5, 0.6, 0.55]), np.array([0.9, 0.8, 0.8]))
    False
    """
    diff = np.asarray(scores, float) - np.asarray(best, float)
    if diff.size < 2:
        return bool(diff.mean() >= 0)
    return bool(diff.mean() >= -z * diff.std(ddof=1) / math.sqrt(diff.size))


def log_losses(labels: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Each image's log-loss of its label under the model's ``outputs``.

    >>> log_losses(np.array([1, 0]), np.array([[0.9], [0.2]])).round(3).tolist()
    [0.105, 0.223]
    """
    eps = 1e-7
    probabilities = np.clip(as_probabilities(outputs), eps, 1 - eps)
    return -np.log(probabilities[np.arange(labels.size), labels])
