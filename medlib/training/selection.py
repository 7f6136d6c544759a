"""Which epoch a run keeps: per-image validation scores and losses, compared within their noise."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medlib.metrics import as_probabilities
from medlib.segmentation import mask_metrics


def segmentation_losses(truths: Sequence[np.ndarray], probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """Each image's training loss (binary cross-entropy plus soft Dice loss, as in training) from its reference mask
    and predicted probability map.

    >>> segmentation_losses([np.ones((2, 2))], [np.ones((2, 2))]).round(4).tolist()
    [0.0]
    """
    losses = []
    for truth, probability in zip(truths, probabilities, strict=True):
        t, p = np.asarray(truth, np.float64), np.clip(np.asarray(probability, np.float64), 1e-7, 1 - 1e-7)
        bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
        losses.append(bce + 1.0 - (2.0 * np.sum(t * p) + 1.0) / (np.sum(t + p) + 1.0))
    return np.array(losses)


def dice_per_image(truths: Sequence[np.ndarray], probabilities: Sequence[np.ndarray],
                   fovs: Sequence[np.ndarray | None]) -> np.ndarray:
    """Each image's Dice of its probability map against its reference mask (inside its field of view)."""
    return np.array([mask_metrics(t, p, fov=f)["dice"] for t, p, f in zip(truths, probabilities, fovs,
                                                                         strict=True)])


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
