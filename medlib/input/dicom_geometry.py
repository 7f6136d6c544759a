"""Where a DICOM image lies and what an answer about it must cite: its UIDs and frame positions
(:class:`medlib.input.image.DicomReferences`), and the affine from its pixel indexes to the patient, in millimetres.

DICOM places pixels in LPS (x to the patient's left, y to the back); the affine given here is in RAS+, as
NIfTI's, so that volumes of either format compare alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medlib.input.image import DicomReferences

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""Flips x and y: from DICOM's patient coordinates to NIfTI's."""


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == count and all(np.isfinite(out)) else None


def _uid(ds: Any, keyword: str) -> str:
    return str(ds.get(keyword) or "")


def dicom_references(datasets: Sequence[Any], frames: int = 1) -> DicomReferences | None:
    """The references of a series' datasets (one per frame, in frame order) or of one multi-frame dataset
    (``frames`` of it); ``None`` where the files carry no Study and Series UIDs to cite."""
    first = datasets[0]
    if not _uid(first, "StudyInstanceUID") or not _uid(first, "SeriesInstanceUID"):
        return None
    per_frame = list(datasets) if len(datasets) > 1 else [first] * frames
    positions = [_floats(ds.get("ImagePositionPatient"), 3) for ds in per_frame]
    spacing = _floats(first.get("PixelSpacing"), 2)
    thickness = first.get("SliceThickness")
    return DicomReferences(
        study_uid=_uid(first, "StudyInstanceUID"), series_uid=_uid(first, "SeriesInstanceUID"),
        sop_class_uid=_uid(first, "SOPClassUID"), instance_uids=tuple(_uid(ds, "SOPInstanceUID") for ds in per_frame),
        frame_of_reference_uid=_uid(first, "FrameOfReferenceUID") or None,
        modality=str(first.get("Modality")) if first.get("Modality") else None,
        orientation=_floats(first.get("ImageOrientationPatient"), 6),
        positions=tuple(positions) if all(p is not None for p in positions) and len(datasets) == len(per_frame)
        else None, pixel_spacing=spacing,
        slice_thickness=float(thickness) if thickness not in (None, "") else None,
        patient_orientation=_orientation(first.get("PatientOrientation")))


def _orientation(value: Any) -> tuple[str, str] | None:
    """Two patient directions (letters of ``LRAPHF``), as PatientOrientation states them, else ``None``."""
    try:
        pair = tuple(str(v).strip().upper() for v in value)
    except TypeError:
        return None
    return pair if len(pair) == 2 and all(v and set(v) <= set("LRAPHF") for v in pair) else None  # type: ignore


def dicom_affine(references: DicomReferences | None, frames: int) -> np.ndarray | None:
    """The RAS+ affine from (frame, row, column) to mm, where the references place every frame (orientation,
    positions and pixel spacing); ``None`` otherwise. The frame axis steps from one frame's position to the next
    (a single frame: along the plane's normal by the slice thickness, or 1 mm)."""
    if references is None or references.orientation is None or references.pixel_spacing is None \
            or references.positions is None or len(references.positions) != frames:
        return None
    row_direction = np.asarray(references.orientation[:3])  # along a row: the column index grows
    column_direction = np.asarray(references.orientation[3:])  # down a column: the row index grows
    row_spacing, column_spacing = references.pixel_spacing
    origin = np.asarray(references.positions[0])
    if frames > 1:
        step = (np.asarray(references.positions[-1]) - origin) / (frames - 1)
    else:
        step = np.cross(row_direction, column_direction) * (references.slice_thickness or 1.0)
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3] = step, column_direction * row_spacing, \
        row_direction * column_spacing, origin
    return LPS_TO_RAS @ lps
