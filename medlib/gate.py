"""The out-of-distribution gate: is an image like those the models were trained on?

A model answers every input, a CT slice or a photograph as readily as a chest film, so its answer is shown
as a finding only where the gate lets the image through. The gate reads what the models see, so it works
on PNG and JPEG files that carry no tags:

- ``tags``: a DICOM file's own tags say it is not what the models' cards say they learned from (another modality,
  such as a CT given to a chest-film model, or another body part); files without tags (PNG, JPEG) leave it to
  the signals below;
- ``blank``: the image has no contrast at all;
- ``colour``: a model trained on gray images is given a colour picture (a chest film is gray in any format);
- ``features``: the classifier's feature vector is far from those of its training images (the Mahalanobis
  distance of Lee et al. 2018, on a shrunk covariance);
- ``shape``: the segmenter's mask is unlike the masks it drew on its training images (for a lung segmenter:
  two lung fields of plausible size, balance and place), by the same distance on a few mask statistics.

Each signal is divided by its threshold, so 1.0 is the border on every scale, and the ``ood_score`` is the
largest of them: an image is in distribution when it is below 1. The thresholds of the two learned signals
are set on the models' own validation images only (a high quantile with a margin, see :data:`QUANTILE`),
never on the out-of-distribution images that measure the gate (``benchmarks/gate_benchmark.py``).

>>> rng = np.random.default_rng(0)
>>> profile = fit_profile(rng.normal(size=(500, 4)), rng.normal(size=(100, 4)))
>>> bool(profile.score(np.zeros((1, 4)))[0] < 1), bool(profile.score(np.full((1, 4), 9.0))[0] > 1)
(True, True)
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from skimage.measure import label, regionprops

from medlib.store.card import BODY_PARTS, MODALITIES, ModelCard

QUANTILE, MARGIN = 0.995, 1.25
"""A learned signal's threshold: this quantile of the distances of the model's validation images, times this
margin (films from other hospitals sit a little further out than the validation films of the training set's)."""
COLOUR_LIMIT = 0.06
"""Colour signal's threshold: the mean spread between an image's colour channels, as a share of its contrast.
A gray film saved as RGB or JPEG has almost none (below 0.01); colour photographs and fundus images far more."""
BLANK_LIMIT = 1e-6
"""Contrast (as a share of the value scale) under which an image is blank."""
SIGNALS = ("tags", "blank", "colour", "features", "shape", "volume")
"""Every signal, in the order they are reported."""
REASONS = {
    "tags": "its DICOM tags name another modality or body part than the models learned from",
    "blank": "the image is blank: it has no contrast",
    "colour": "it is a colour picture; the model learned from gray films",
    "features": "it looks unlike the films the classifier learned from",
    "shape": "what the segmenter outlines is unlike what it outlined on its training films",
    "volume": "the volume (its size, intensities and what the model outlines in it) is unlike those it learned from",
}
"""What each signal means for people, when it flags an image."""


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


def colour_spread(image: np.ndarray) -> float:
    """The mean spread between an image's colour channels over its contrast (0 for a gray image)."""
    image = np.asarray(image, np.float32)
    if image.ndim < 3 or image.shape[-1] < 3:
        return 0.0
    stride = max(1, max(image.shape[:2]) // 512)
    sample = image[::stride, ::stride, :3]
    gray = sample.mean(axis=-1)
    low, high = np.percentile(gray, [0.5, 99.5])
    spread = float((sample.max(axis=-1) - sample.min(axis=-1)).mean())
    return spread / max(float(high - low), 1e-6)


def contrast(image: np.ndarray) -> float:
    """The image's value range over its scale: 0 for a blank image."""
    image = np.asarray(image, np.float32)
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return 0.0
    low, high = float(finite.min()), float(finite.max())
    return (high - low) / max(abs(low), abs(high), 1.0)


@dataclass
class GateResult:
    """The gate's verdict on one image: every signal over its threshold, the largest of them, and why."""

    signals: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """The largest signal: below 1 the image is in distribution."""
        return max(self.signals.values(), default=0.0)

    @property
    def in_distribution(self) -> bool:
        return self.score < 1.0

    @property
    def reasons(self) -> list[str]:
        """What flagged the image, for people (empty where it passed)."""
        return [REASONS[name] for name, value in self.signals.items() if value >= 1.0]

    def to_dict(self) -> dict[str, Any]:
        return {"in_distribution": self.in_distribution, "ood_score": round(min(self.score, 1e6), 4),
                "signals": {k: round(min(v, 1e6), 4) for k, v in self.signals.items()}, "reasons": self.reasons}


def image_signals(image: np.ndarray, gray_model: bool, metadata: dict[str, Any] | None = None,
                  cards: Sequence[ModelCard] = ()) -> dict[str, float]:
    """The signals read from the file itself: ``tags`` (where ``metadata`` holds DICOM tags: infinite for a
    modality or a body part other than a card of ``cards`` names, else 0; a card that names neither sets no
    expectation), ``blank`` (infinite when the image has no contrast, else 0) and, for a model trained on gray
    images, ``colour``.

    >>> chest = ModelCard("classify", "cnn", [8, 8, 1], ["normal", "pneumonia"], modality="X-ray radiograph",
    ...                   body_part="chest")
    >>> image_signals(np.ones((4, 4, 1)), True, {"Modality": "CT"}, [chest])
    {'tags': inf, 'blank': inf, 'colour': 0.0}
    """
    signals = {}
    if metadata and ("Modality" in metadata or "BodyPartExamined" in metadata) and cards:
        modality = str(metadata.get("Modality", "OT")).upper()
        part = str(metadata.get("BodyPartExamined", "")).upper()
        fits = all((not card.modality or modality in MODALITIES[card.modality])
                   and (not card.body_part or not part or part in BODY_PARTS[card.body_part]) for card in cards)
        signals["tags"] = 0.0 if fits else float("inf")
    signals["blank"] = float("inf") if contrast(image) <= BLANK_LIMIT else 0.0
    if gray_model:
        signals["colour"] = colour_spread(image) / COLOUR_LIMIT
    return signals
