"""One volume (a NIfTI file, a DICOM series) through a volume model: its label volume on the volume's own grid, each
structure's voxels and volume in mL, and the gate's verdict; the label volume written as NIfTI with the input's own
affine.

A model learned from volumes in the closest canonical orientation (RAS+); a volume of another orientation is turned
to it for the model, and its labels turned back, so that they lie on the input's own voxels.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass, field
from typing import Any

import nibabel as nib
import numpy as np

from medlib.errors import ModelError
from medlib.gate.signals import GateResult, image_signals
from medlib.models.loaded import LoadedModel
from medlib.models.predict import segment_volume


@dataclass
class VolumeDiagnosis:
    """What a volume model says of one volume: the label volume in the input's own voxel order (0 background,
    1..K in the card's structure order), each structure's voxels and mL, and whether the volume is like those the
    model learned from (where it is not, the structures are no finding)."""

    structures: list[str]
    labels: np.ndarray
    affine: np.ndarray
    spacing: tuple[float, float, float]
    volumes: dict[str, dict[str, float]] = field(default_factory=dict)
    gate: GateResult = field(default_factory=GateResult)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        shown = self.gate.in_distribution
        return {**self.gate.to_dict(), "structures": self.volumes if shown else {},
                "spacing_mm": [round(v, 4) for v in self.spacing], "notes": self.notes,
                "model_seconds": round(self.seconds, 3)}


def canonical(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``data`` (3-D) turned to the closest canonical (RAS+) orientation, its affine, and the orientation that turns
    it back (:func:`nibabel.orientations.apply_orientation`)."""
    from nibabel import orientations

    ornt = orientations.io_orientation(affine)
    turned = orientations.apply_orientation(data, ornt)
    back = orientations.ornt_transform(orientations.axcodes2ornt("RAS"), ornt)
    turned_affine = affine @ orientations.inv_ornt_aff(ornt, data.shape)
    return np.ascontiguousarray(turned), turned_affine, back


def diagnose_volume(data: np.ndarray, affine: np.ndarray, model: LoadedModel,
                    metadata: dict[str, Any] | None = None) -> VolumeDiagnosis:
    """The label volume of ``data`` (3-D, its own voxel order, placed by ``affine``) by a volume model, with each
    structure's volume and the gate's verdict (DICOM tags against the card, and the learned volume profile)."""
    from nibabel import orientations

    from medlib.training.volume_run import volume_profile

    if np.ndim(data) != 3:
        raise ModelError(f"{model.stored.name} takes volumes; this image has shape {np.shape(data)}: give it a NIfTI "
                         "volume or a DICOM series")
    started = time.perf_counter()
    turned, turned_affine, back = canonical(np.asarray(data, np.float32), affine)
    spacing = tuple(float(v) for v in np.sqrt((turned_affine[:3, :3] ** 2).sum(axis=0)))
    steps = model.volume_steps
    labels = segment_volume(model.model, steps, turned, spacing)
    signals = image_signals(turned[..., turned.shape[2] // 2, None], True, metadata, [model.card])
    signals.pop("colour", None)
    if (profile := model.card.gate.get("volume")) is not None:
        from medlib.gate.profile import Profile

        vector = volume_profile(model.model, steps, turned, spacing)
        signals["volume"] = float(Profile.from_dict(profile).score(vector)[0])
    result = VolumeDiagnosis(model.card.structures, orientations.apply_orientation(labels, back).astype(np.uint8),
                             np.asarray(affine, float), spacing, gate=GateResult(signals))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    for value, name in enumerate(result.structures, start=1):
        count = int((labels == value).sum())
        result.volumes[name] = {"voxels": count, "volume_ml": round(count * voxel_ml, 4)}
    result.seconds = time.perf_counter() - started
    return result


def labels_nifti(result: VolumeDiagnosis) -> bytes:
    """The label volume as a gzipped NIfTI file's bytes (uint8, the input's own affine, the structures named in its
    description)."""
    image = nib.Nifti1Image(result.labels, result.affine)
    image.header["descrip"] = ("labels: " + ", ".join(f"{k}={n}" for k, n in enumerate(result.structures, 1)))[:79]
    return gzip.compress(image.to_bytes(), mtime=0)
