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
are set on the models' own validation images only (a high quantile with a margin, see
:data:`medlib.gate.profile.QUANTILE`), never on the out-of-distribution images that measure the gate
(``benchmarks/gate_benchmark.py``).

The learned signals' profiles are in :mod:`medlib.gate.profile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medlib.store.card import BODY_PARTS, MODALITIES, ModelCard

COLOUR_LIMIT = 0.06
"""Colour signal's threshold: the mean spread between an image's colour channels, as a share of its contrast.
A gray film saved as RGB or JPEG has almost none (below 0.01); colour photographs and fundus images far more."""
BLANK_LIMIT = 1e-6
"""Contrast (as a share of the value scale) under which an image is blank."""
REASONS = {
    "tags": "its DICOM tags name another modality or body part than the models learned from",
    "blank": "the image is blank: it has no contrast",
    "colour": "it is a colour picture; the model learned from gray films",
    "features": "it looks unlike the films the classifier learned from",
    "shape": "what the segmenter outlines is unlike what it outlined on its training films",
    "volume": "the volume (its size, intensities and what the model outlines in it) is unlike those it learned from",
}
"""What each signal means for people, when it flags an image."""


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
