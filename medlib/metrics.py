"""Classification and segmentation metrics (scikit-learn where it has them).

Binary: the positive class is index 1 and the threshold is 0.5 unless given.
Multi-class: argmax predictions and macro averages (one-vs-rest AUC).

>>> m = classification_metrics(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.6, 0.4]))
>>> m["auc"], m["accuracy"], m["sensitivity"], m["specificity"]
(1.0, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score


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


def _auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    if _auc_classes(labels, probabilities.shape[1]) is None:
        return None
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", average="macro"))


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


def classification_metrics(labels: np.ndarray, raw: np.ndarray, threshold: float = 0.5) -> dict[str, float | None]:
    """AUC, accuracy, sensitivity, specificity and F1 (macro over classes when there are more than two)."""
    labels = np.asarray(labels).reshape(-1).astype(int)
    probabilities = as_probabilities(raw)
    if probabilities.shape[1] == 2:
        predicted = (probabilities[:, 1] >= threshold).astype(int)
        sensitivity = recall_score(labels, predicted, pos_label=1, zero_division=0)
        specificity = recall_score(labels, predicted, pos_label=0, zero_division=0)
        f1 = f1_score(labels, predicted, zero_division=0)
    else:
        classes = np.arange(probabilities.shape[1])
        predicted = probabilities.argmax(axis=1)
        sensitivity = recall_score(labels, predicted, labels=classes, average="macro", zero_division=0)
        specificity = float(np.mean([recall_score(labels != k, predicted != k, zero_division=0) for k in classes]))
        f1 = f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)
    return {
        "auc": _auc(labels, probabilities),
        "accuracy": float(accuracy_score(labels, predicted)),
        "sensitivity": float(sensitivity),
        "specificity": float(specificity),
        "f1": float(f1),
        "n": int(labels.size),
    }
