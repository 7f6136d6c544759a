"""Decision thresholds of a binary classifier on its finding's probability: the best Youden's J, or the one that
reaches a target sensitivity or specificity."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from medlib.errors import EvaluationError


def youden_threshold(labels: np.ndarray, scores: np.ndarray, step: float | None = None) -> float:
    """The threshold on class 1's probability that maximises Youden's J (sensitivity + specificity - 1): the one
    rule behind the card's threshold and the Evaluation page's.

    Any cut between two neighbouring scores gives the same J, and so may several such gaps: the threshold is
    the middle one of all cuts that reach the best J (the lower of two), each cut half-way between its
    neighbours in logit space, so it does not sit on one validation image's score. With ``step`` the cuts are
    the multiples of ``step`` from 0 to 1 instead (a slider's grid: the threshold is one the slider can show).

    >>> youden_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    0.5
    >>> youden_threshold(np.array([0, 1]), np.array([1e-9, 1 - 1e-9]), step=0.001)
    0.5
    >>> youden_threshold(np.array([0, 0, 1, 1]), np.array([1e-12, 1e-10, 1 - 1e-9, 1.0]))
    0.5
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if step is None:  # scores this close to 0 or 1 tell nothing apart: compared as the clipped values
        scores = np.clip(scores, 1e-7, 1 - 1e-7)
        logit = np.unique(np.log(scores / (1 - scores)))
        cuts = 1.0 / (1.0 + np.exp(-np.concatenate([[logit[0] - 1.0], (logit[:-1] + logit[1:]) / 2.0,
                                                     [logit[-1] + 1.0]])))
    else:
        cuts = np.arange(int(round(1.0 / step)) + 1) * step
    sensitivity = (scores[labels == 1][None, :] >= cuts[:, None]).mean(axis=1)
    specificity = (scores[labels == 0][None, :] < cuts[:, None]).mean(axis=1)
    youden = sensitivity + specificity - 1.0
    best = cuts[youden >= youden.max() - 1e-12]
    return round(float(best[(best.size - 1) // 2]), 6)


def threshold_for(labels: np.ndarray, scores: np.ndarray, sensitivity: float | None = None,
                  specificity: float | None = None) -> float:
    """The highest threshold reaching a target sensitivity, or the lowest reaching a target specificity."""
    if (sensitivity is None) == (specificity is None):
        raise EvaluationError("give exactly one target: sensitivity or specificity")
    fpr, tpr, thresholds = roc_curve(labels, scores)
    thresholds = np.minimum(thresholds, 1.0)
    if sensitivity is not None:
        return float(thresholds[int(np.argmax(tpr >= sensitivity))])
    reach = np.flatnonzero(1.0 - fpr >= specificity)
    return float(thresholds[reach[-1]])
