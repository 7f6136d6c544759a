"""What a volume model does to a volume before the network: resampling to its target spacing (the image linearly,
labels by nearest neighbour), intensity normalisation by modality, padding to the patch grid, and the record of it
that brings an answer back onto the volume's own grid (its affine unchanged). The network answers through the one
sliding window of films and volumes (:func:`medlib.models.predict.segment_volume`).

>>> steps = VolumeSteps((1.0, 1.0, 1.0), "mri", (8, 8, 8))
>>> prepared = steps.prepare(np.ones((6, 7, 5), np.float32), (1.0, 1.0, 1.0))
>>> prepared.image.shape, prepared.record.shape_out((6, 7, 5))
((8, 8, 8, 1), (8, 8, 8))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medlib.errors import DatasetError
from medlib.geometry import Pad, Record, Scale

MIRROR_VIEWS: tuple[tuple[int, ...], ...] = ((), (0,), (1,), (2,))
"""nnU-Net's mirror test-time augmentation, cut to the volume and one flip along each axis: on the 30 hippocampus
validation volumes it raised the mean Dice from 0.866 to 0.871 and cut HD95 from 1.86 to 1.65 mm, where all eight
combinations of flips did no better at twice the time (benchmarks/README.md)."""
NORMALISATIONS = ("mri", "ct")
"""``mri``: each volume to zero mean and unit variance over its voxels (MRI has no absolute scale); ``ct``: one
Hounsfield window for every volume (set from the foreground's percentiles at training), then to 0..1."""


@dataclass(frozen=True)
class Prepared:
    """A volume as the network takes it (D×H×W×1 float32), its label volume brought alike, and the record of the
    geometric steps (to bring a map back)."""

    image: np.ndarray
    labels: np.ndarray | None
    record: Record


@dataclass(frozen=True)
class VolumeSteps:
    """A volume model's preprocessing: ``spacing`` (mm) to resample to, ``normalisation`` (one of
    :data:`NORMALISATIONS`, with the CT ``window`` as (low, high) HU), and ``patch``, the grid a volume is padded
    to (each side a multiple of the network's)."""

    spacing: tuple[float, float, float]
    normalisation: str
    patch: tuple[int, int, int]
    window: tuple[float, float] | None = None
    mirrors: tuple[tuple[int, ...], ...] = ((),)
    """The views whose maps are averaged at inference (axes to flip; ``()`` the volume itself): a model trained
    with mirrors answers from the volume and its flip along each axis (:data:`MIRROR_VIEWS`)."""

    def record(self, shape: Sequence[int], spacing: Sequence[float]) -> Record:
        """The steps from a volume of ``shape`` at ``spacing`` to the network's grid: a scale to the target spacing
        (where it differs by more than 1%), then padding up to a multiple of the patch (centred)."""
        steps: list[Any] = []
        size = tuple(int(s) for s in shape)
        factors = np.asarray(spacing, float) / np.asarray(self.spacing, float)
        if np.any(np.abs(factors - 1.0) > 0.01):
            resized = tuple(max(1, int(round(s * f))) for s, f in zip(size, factors, strict=True))
            steps.append(Scale(size, resized, "linear"))
            size = resized
        target = tuple(max(p, -(-s // p) * p) for s, p in zip(size, self.patch, strict=True))
        if target != size:
            steps.append(Pad(tuple(((t - s) // 2, t - s - (t - s) // 2) for t, s in zip(target, size, strict=True))))
        return Record(tuple(steps))

    def normalise(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, np.float32)
        if self.normalisation == "ct":
            low, high = self.window or (float(image.min()), float(image.max()))
            return np.clip((image - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32)
        std = float(image.std())
        return ((image - float(image.mean())) / (std if std > 1e-6 else 1.0)).astype(np.float32)

    def prepare(self, image: np.ndarray, spacing: Sequence[float], labels: np.ndarray | None = None) -> Prepared:
        """A volume (D×H×W) at ``spacing`` ready for the network, its labels moved alike (nearest)."""
        if np.asarray(image).ndim != 3:
            raise DatasetError(f"a volume model takes 3-D volumes; this one has shape {np.shape(image)}")
        record = self.record(image.shape, spacing)
        normalised = self.normalise(image)  # before padding: the padding is the normalised background
        moved = record.move(normalised, fill=float(normalised.min()))
        moved_labels = None if labels is None else record.move(np.asarray(labels, np.uint8), nearest=True, fill=0)
        return Prepared(moved[..., None].astype(np.float32, copy=False), moved_labels, record)

    def to_dict(self) -> dict[str, Any]:
        return {"medlib": "volume-preprocess", "version": 1, "spacing": list(self.spacing),
                "normalisation": self.normalisation, "patch": list(self.patch),
                "window": None if self.window is None else list(self.window),
                "mirrors": [list(axes) for axes in self.mirrors]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VolumeSteps:
        if data.get("medlib") != "volume-preprocess":
            raise DatasetError("this card's preprocessing is not a volume model's")
        window = data.get("window")
        mirrors = tuple(tuple(int(a) for a in axes) for axes in data.get("mirrors", [[]]))
        if not mirrors or any(not set(axes) <= {0, 1, 2} for axes in mirrors):
            raise DatasetError(f"this card's volume mirrors {data.get('mirrors')} are not lists of axes 0-2")
        return cls(tuple(float(v) for v in data["spacing"]), str(data["normalisation"]),
                   tuple(int(v) for v in data["patch"]), None if window is None else tuple(float(v) for v in window),
                   mirrors)
