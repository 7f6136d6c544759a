"""What a classifier's outputs say per image: class probabilities, and each image's share of the AUC.

The metrics themselves (with their intervals) are computed in one place, :mod:`medlib.scoring.classification`, for the
card,
the Evaluation page, the command line and the validation of each training epoch alike; segmentation metrics are
in :mod:`medlib.scoring.segmentation`.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def as_probabilities(raw: np.ndarray) -> np.ndarray:
    """Model outputs as an (N, K) matrix of class probabilities (a sigmoid column becomes two)."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim == 1 or raw.shape[-1] == 1:
        positive = raw.reshape(-1)
        return np.stack([1.0 - positive, positive], axis=1)
    return raw


def _auc_classes(labels: np.ndarray, num_classes: int) -> list[int] | None:
    """The classes whose one-vs-rest problems make up the AUC (class 1 alone for two), or ``None`` where one of
    them lacks positives or negatives in ``labels`` (one-vs-rest AUC needs every class in the split)."""
    classes = [1] if num_classes == 2 else list(range(num_classes))
    if any(not 0 < np.count_nonzero(labels == k) < labels.size for k in classes):
        return None
    return classes


def auc_per_image(labels: np.ndarray, raw: np.ndarray) -> np.ndarray | None:
    """Each image's share of the AUC (macro one-vs-rest for more than two classes), so that their mean is the AUC.

    The shares are DeLong's placement values (the fraction of the other class ranked below a positive image,
    above a negative one), weighted by class size; compared image by image between two models they compare
    the AUCs, paired (DeLong et al., 1988). ``None`` where the AUC is undefined (a class missing).

    >>> auc_per_image(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])).tolist()
    [1.0, 0.5, 0.5, 1.0]
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    probabilities = as_probabilities(raw)
    classes = _auc_classes(labels, probabilities.shape[1])
    if classes is None:
        return None
    shares = np.zeros(labels.size)
    for k in classes:
        positive, score = labels == k, probabilities[:, k]
        # an image's mid-rank among all, less its mid-rank in its own class: the other class ranked below it
        below = rankdata(score)
        below[positive] -= rankdata(score[positive])
        below[~positive] -= rankdata(score[~positive])
        placement = np.where(positive, below / (~positive).sum(), 1.0 - below / positive.sum())
        shares += placement * np.where(positive, 0.5 / positive.sum(), 0.5 / (~positive).sum())
    return shares * labels.size / len(classes)
