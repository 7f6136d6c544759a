"""The image object every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Window:
    """A display window: values ``center - width/2 .. center + width/2`` map to black..white."""

    center: float
    width: float

    @property
    def low(self) -> float:
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        return self.center + self.width / 2.0


@dataclass(frozen=True)
class DicomReferences:
    """What a DICOM answer (a SEG or SR object) must cite of its source image, and where its frames lie: UIDs and
    positions, never a patient identifier. Kept apart from :attr:`MedImage.metadata` (which is shown): a page or
    a report never prints it.

    ``instance_uids`` and ``positions`` hold one entry per frame, in the image's frame order (a series' files in
    anatomical order; a multi-frame file's one instance repeated)."""

    study_uid: str
    series_uid: str
    sop_class_uid: str
    instance_uids: tuple[str, ...]
    frame_of_reference_uid: str | None = None
    modality: str | None = None
    orientation: tuple[float, ...] | None = None
    """ImageOrientationPatient: the row and column directions (LPS)."""
    positions: tuple[tuple[float, float, float], ...] | None = None
    """ImagePositionPatient of each frame's first pixel (LPS, mm)."""
    pixel_spacing: tuple[float, float] | None = None
    slice_thickness: float | None = None
    patient_orientation: tuple[str, str] | None = None
    """PatientOrientation: the patient directions of the rows and columns (``L``, ``F``: a frontal chest film as
    read), where the file states them."""


@dataclass
class MedImage:
    """Pixels and the few facts about them that are safe to show.

    ``data`` always has shape ``(frames, height, width, channels)`` and dtype
    float32; the values are as the file stores them after the modality
    transform (Hounsfield units for CT). ``metadata`` holds only de-identified
    technical tags.

    >>> img = MedImage(np.zeros((1, 4, 5, 1), np.float32), format="png")
    >>> img.pixels.shape
    (4, 5)
    """

    data: np.ndarray
    format: str
    modality: str | None = None
    spacing: tuple[float, float] | None = None
    photometric: str | None = None
    window: Window | None = None
    windows: tuple[tuple[str, Window], ...] = ()
    """Every window the file names (a DICOM file may give several: lung, mediastinum…), each with its explanation
    or ``window N``; the first is :attr:`window`."""
    metadata: dict[str, Any] = field(default_factory=dict)
    slice_spacing: float | None = None
    source_size: tuple[int, int] | None = None
    """The file's own (height, width) where it was decoded at a reduced scale (a large JPEG, see ``reduce_to``)."""
    affine: np.ndarray | None = None
    """Where the pixels lie in the patient: a 4×4 matrix from an index (frame, row, column) to millimetres in RAS+
    (NIfTI's convention), where the file says (a NIfTI volume; a DICOM image or series with its position)."""
    references: DicomReferences | None = None
    """The DICOM UIDs and positions an answer about this image cites (a DICOM file only; never shown)."""

    def __post_init__(self) -> None:
        if self.data.ndim != 4:
            raise ValueError(f"MedImage.data must be (frames, H, W, C), got shape {self.data.shape}")
        self.data = np.ascontiguousarray(self.data, dtype=np.float32)

    @property
    def dimensions(self) -> int:
        """3 for a volume (several frames placed in space: a NIfTI volume, a DICOM series), else 2."""
        return 3 if self.frames > 1 and self.affine is not None else 2

    @property
    def voxel_spacing(self) -> tuple[float, ...] | None:
        """(row, column) mm of a 2-D image, (slice, row, column) of a volume, where known."""
        if self.affine is not None:
            sizes = tuple(float(v) for v in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))
            return sizes if self.dimensions == 3 else sizes[1:]
        return self.spacing

    @property
    def frames(self) -> int:
        return int(self.data.shape[0])

    @property
    def height(self) -> int:
        return int(self.data.shape[1])

    @property
    def width(self) -> int:
        return int(self.data.shape[2])

    @property
    def channels(self) -> int:
        return int(self.data.shape[3])

    @property
    def pixels(self) -> np.ndarray:
        """The data without its length-one axes: H×W, H×W×C, F×H×W or F×H×W×C."""
        out = self.data
        if self.channels == 1:
            out = out[..., 0]
        return out[0] if self.frames == 1 else out

    def frame(self, index: int = 0) -> np.ndarray:
        """One frame or slice as H×W (gray) or H×W×C (colour)."""
        if not 0 <= index < self.frames:
            raise IndexError(f"frame {index} is out of range: the image has {self.frames} frame(s)")
        out = self.data[index]
        return out[..., 0] if self.channels == 1 else out

    def value_range(self) -> tuple[float, float]:
        """Smallest and largest finite value over all frames."""
        if np.isfinite(self.data).all():  # the common case, without a copy of the pixels
            return (float(self.data.min()), float(self.data.max())) if self.data.size else (0.0, 0.0)
        finite = self.data[np.isfinite(self.data)]
        if finite.size == 0:
            return 0.0, 0.0
        return float(finite.min()), float(finite.max())

    def default_window(self) -> Window:
        """The file's own window, or the full value range where it has none."""
        if self.window is not None:
            return self.window
        low, high = self.value_range()
        return Window(center=(low + high) / 2.0, width=max(high - low, 1e-6))

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (what ``python -m medlib inspect`` prints)."""
        low, high = self.value_range()
        return {
            "format": self.format,
            "modality": self.modality,
            "shape": list(self.pixels.shape),
            "dtype": str(self.data.dtype),
            "frames": self.frames,
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
            "min": low,
            "max": high,
            "spacing": list(self.spacing) if self.spacing else None,
            "dimensions": self.dimensions,
            "voxel_spacing": [round(v, 4) for v in self.voxel_spacing] if self.voxel_spacing else None,
            "photometric": self.photometric,
            "window": [self.window.center, self.window.width] if self.window else None,
            "metadata": self.metadata,
        }
