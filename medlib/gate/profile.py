"""What the out-of-distribution gate learns (:mod:`medlib.gate`): the profile of the vectors a model gives its
training images (a classifier's features, the statistics of a map model's foreground), and the distance of a new
image's vector from it.

>>> rng = np.random.default_rng(0)
>>> profile = fit_profile(rng.normal(size=(500, 4)), rng.normal(size=(100, 4)))
>>> bool(profile.score(np.zeros((1, 4)))[0] < 1), bool(profile.score(np.full((1, 4), 9.0))[0] > 1)
(True, True)
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
from skimage.measure import label, regionprops

QUANTILE, MARGIN = 0.995, 1.25
"""A learned signal's threshold: this quantile of the distances of the model's validation images, times this
margin (films from other hospitals sit a little further out than the validation films of the training set's)."""
AXES = 32
"""Principal axes a profile keeps; the variance of the others is pooled into one (probabilistic PCA)."""


@dataclass(frozen=True)
class Profile:
    """Where a model's training images lie in some vector space: their mean, the principal axes of their shrunk
    covariance with the variance along each, the mean variance of the other directions, and the distance threshold
    set on validation images."""

    mean: np.ndarray
    axes: np.ndarray
    variances: np.ndarray
    residual_variance: float
    threshold: float

    def distance(self, vectors: np.ndarray) -> np.ndarray:
        """The Mahalanobis distance of each row of ``vectors`` (the other directions pooled)."""
        centred = np.atleast_2d(np.asarray(vectors, np.float64)) - self.mean
        projected = centred @ self.axes
        squared = np.sum(projected**2 / self.variances, axis=1)
        if self.residual_variance > 0:
            rest = np.maximum(np.sum(centred**2, axis=1) - np.sum(projected**2, axis=1), 0.0)
            squared += rest / self.residual_variance
        return np.sqrt(squared)

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """Each row's distance over the threshold: above 1 is out of distribution."""
        return self.distance(vectors) / self.threshold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the axes as base64 of float32, row-major (a card stays small and readable)."""
        axes = base64.b64encode(np.ascontiguousarray(self.axes, "<f4").tobytes()).decode("ascii")
        return {"mean": _rounded(self.mean), "axes": {"shape": list(self.axes.shape), "float32_base64": axes},
                "variances": _rounded(self.variances), "residual_variance": float(f"{self.residual_variance:.6g}"),
                "threshold": round(float(self.threshold), 6)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        axes = np.frombuffer(base64.b64decode(data["axes"]["float32_base64"]), "<f4").reshape(data["axes"]["shape"])
        return cls(np.asarray(data["mean"], np.float64), axes.astype(np.float64),
                   np.asarray(data["variances"], np.float64), float(data["residual_variance"]),
                   float(data["threshold"]))


def _rounded(values: np.ndarray) -> list:
    return [float(f"{v:.6g}") for v in np.asarray(values, np.float64).ravel()]


def fit_profile(train: np.ndarray, val: np.ndarray) -> Profile | None:
    """A :class:`Profile` of the ``train`` vectors (rows), its threshold set on the ``val`` vectors; ``None``
    where the vectors do not vary (a segmenter that draws nothing on its training images tells nothing).

    The covariance is shrunk towards a scaled identity (Ledoit and Wolf 2004): with a few hundred images and
    a hundred features the plain estimate is singular, and small eigenvalues would make noise look far.
    """
    from sklearn.covariance import LedoitWolf

    train = np.asarray(train, np.float64)
    if not np.any(train.std(axis=0) > 1e-9):
        return None
    variances, axes = np.linalg.eigh(LedoitWolf().fit(train).covariance_)
    order = np.argsort(variances)[::-1]
    variances, axes = np.maximum(variances[order], 1e-12), axes[:, order]
    kept = min(AXES, variances.size)
    residual = float(variances[kept:].mean()) if variances.size > kept else 0.0
    profile = Profile(train.mean(axis=0), axes[:, :kept], variances[:kept], residual, 1.0)
    threshold = float(np.quantile(profile.distance(val), QUANTILE)) * MARGIN
    if threshold <= 1e-6:
        return None
    return Profile(profile.mean, profile.axes, profile.variances, residual, threshold)


MASK_STATISTICS = ("foreground", "components", "two_largest", "left_share", "centre_row", "centre_column",
                   "uncertain")
"""What the shape signal compares: the foreground share of the image, the number of components of at least 1%
of it, the share of the foreground in the two largest, the share in the image's left half, the foreground's
centre (row and column, 0..1), and the share of foreground-ish pixels the segmenter is unsure of (0.2..0.8)."""


def mask_statistics(probability: np.ndarray) -> np.ndarray:
    """The :data:`MASK_STATISTICS` of one probability map (H×W, 0..1)."""
    probability = np.asarray(probability, np.float32)
    mask = probability >= 0.5
    height, width = mask.shape
    area = float(mask.sum())
    if area == 0:
        return np.array([0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0])
    sizes = sorted((r.area for r in regionprops(label(mask, connectivity=2))), reverse=True)
    rows, columns = np.nonzero(mask)
    unsure = float(((probability > 0.2) & (probability < 0.8)).sum())
    return np.array([
        area / mask.size,
        float(sum(s >= 0.01 * mask.size for s in sizes)),
        float(sum(sizes[:2])) / area,
        float(mask[:, : width // 2].sum()) / area,
        float(rows.mean()) / height,
        float(columns.mean()) / width,
        unsure / (area + unsure),
    ])
