"""The source images a DICOM answer cites: stand-ins for the DICOM files an image was read from (their UIDs, size and
place, kept apart from what is shown: :class:`medlib.input.image.DicomReferences`), or, for an image that has no DICOM
file to cite (a PNG or JPEG, a DICOM file whose UIDs are missing or broken), the image itself written as a new
study's Secondary Capture, so that the answer and the image open together in a viewer.

No patient identifier reaches an answer unless asked: the stand-ins carry empty patient and study identifiers
(type 2 attributes: present, empty), and :func:`patient_identifiers` reads them from the files only when the user
chose to keep them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, generate_uid

from medlib.input.image import DicomReferences, MedImage

MANUFACTURER = "medlib"
IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID",
               "AccessionNumber", "ReferringPhysicianName")
"""The patient and study identifiers an answer carries: empty unless the user keeps the source's."""


@dataclass
class Sources:
    """The datasets an answer cites (one per frame of the label map, in frame order), the Secondary Capture to write
    beside the answer where the image had no DICOM file to cite, and what the reader should know."""

    images: list[Dataset]
    secondary_capture: Dataset | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(rows, columns) of the cited images: the label maps' size."""
        return int(self.images[0].Rows), int(self.images[0].Columns)

    @property
    def spacing(self) -> tuple[float, float] | None:
        """(row, column) mm per pixel of the cited images, where known."""
        value = self.images[0].get("PixelSpacing")
        return (float(value[0]), float(value[1])) if value else None


def patient_identifiers(files: Sequence[bytes | Path], instances: Sequence[str] | None = None) -> dict[str, str]:
    """The patient and study identifiers (:data:`IDENTIFYING`) of the first DICOM file among ``files`` (among those
    whose SOPInstanceUID is in ``instances``, where given) that has them: only for a user who asked to keep them
    in the answer."""
    import pydicom

    for source in files:
        try:
            ds = pydicom.dcmread(io.BytesIO(source) if isinstance(source, bytes) else source, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - not DICOM: nothing to keep from it
            continue
        if instances is not None and ds.get("SOPInstanceUID") not in instances:
            continue
        kept = {k: str(ds.get(k) or "") for k in IDENTIFYING}
        if any(kept.values()):
            return kept
    return {}


def _valid(uid: str | None) -> bool:
    return bool(uid) and UID(uid).is_valid


def _identified(ds: Dataset, identifiers: dict[str, str] | None) -> Dataset:
    for keyword in IDENTIFYING:
        setattr(ds, keyword, (identifiers or {}).get(keyword, ""))
    return ds


def _positive(pair: tuple[float, float] | None) -> tuple[float, float] | None:
    return pair if pair is not None and min(pair) > 0 else None


def _cited(references: DicomReferences, size: tuple[int, int], frames: int, identifiers: dict[str, str] | None,
           notes: list[str]) -> list[Dataset]:
    """Stand-ins for the cited files: their UIDs and, where the references place them, their frame of reference,
    orientation, positions and pixel spacing."""
    placed = references.positions is not None and len(references.positions) == frames \
        and references.orientation is not None and _positive(references.pixel_spacing) is not None
    frame_of_reference = references.frame_of_reference_uid
    if frame_of_reference and not _valid(frame_of_reference):
        notes.append("the source's frame of reference UID is broken: the answer is placed by pixels, not in the "
                     "patient")
        placed = False
    images = []
    for frame in range(frames):
        ds = _identified(Dataset(), identifiers)
        ds.SOPClassUID, ds.SOPInstanceUID = references.sop_class_uid, references.instance_uids[frame]
        ds.StudyInstanceUID, ds.SeriesInstanceUID = references.study_uid, references.series_uid
        ds.Modality = references.modality or "OT"
        ds.Rows, ds.Columns = size
        if _positive(references.pixel_spacing):
            ds.PixelSpacing = list(references.pixel_spacing)
        ds.PatientOrientation = list(references.patient_orientation or [])  # type 2C: stated, or empty (unknown)
        if placed and frame_of_reference:
            ds.FrameOfReferenceUID = frame_of_reference
            ds.ImageOrientationPatient = list(references.orientation)
            ds.ImagePositionPatient = list(references.positions[frame])
            ds.SliceThickness = references.slice_thickness or 1.0
        images.append(ds)
    return images


def _secondary_capture(pixels: np.ndarray, spacing: tuple[float, float] | None, modality: str | None,
                       identifiers: dict[str, str] | None) -> Dataset:
    """The image (H×W or H×W×3, uint8) as a new study's Secondary Capture."""
    import highdicom as hd

    colour = pixels.ndim == 3 and not (np.ptp(pixels.astype(np.int16), axis=2) == 0).all()
    image = hd.sc.SCImage(
        pixels if colour else (pixels[..., 0] if pixels.ndim == 3 else pixels), "RGB" if colour else "MONOCHROME2",
        8, "PATIENT", generate_uid(), generate_uid(), 1, generate_uid(), 1, MANUFACTURER,
        pixel_spacing=_positive(spacing), patient_orientation=("L", "F"),
        series_description="the image the medlib answer beside it is about")
    image.Modality = modality or "OT"
    image.Laterality = ""  # type 2C, and unknown here
    image = _identified(image, identifiers)  # the patient's identifiers, as every stand-in gets them
    if not image.StudyDate:  # a new study, begun now (which identifies no one)
        image.StudyDate, image.StudyTime = image.ContentDate, image.ContentTime
    return image


def answer_sources(image: MedImage, display: np.ndarray | None = None, frames: int = 1,
                   identifiers: dict[str, str] | None = None) -> Sources:
    """What an answer about ``image`` cites: its DICOM files (``frames`` of them: one for a film, each slice of a
    series), or, where it has none or their UIDs are missing or broken, ``display`` (the image as shown, uint8 at the
    image's own size) as a new study's Secondary Capture; ``identifiers`` are the patient's, to keep (else empty)."""
    notes: list[str] = []
    references = image.references
    size = image.source_size or (image.height, image.width)
    if references is not None:
        uids = [references.study_uid, references.series_uid, references.sop_class_uid, *references.instance_uids]
        if all(map(_valid, uids)) and len(references.instance_uids) >= frames:
            return Sources(_cited(references, size, frames, identifiers, notes), notes=notes)
        notes.append("the source's UIDs are missing or broken: the answer starts a new study, with the image in it "
                     "as a Secondary Capture (new UIDs)")
    elif image.format == "dicom":
        notes.append("the source names no study or series: the answer starts a new study, with the image in it as a "
                     "Secondary Capture (new UIDs)")
    if frames != 1 or display is None:
        raise ValueError("a volume without DICOM files to cite gets no DICOM answer: its labels are written as NIfTI")
    spacing = image.spacing
    if image.source_size is not None and spacing is not None:  # the pixels written are the decoded ones
        factor = image.source_size[0] / image.height
        spacing = (spacing[0] * factor, spacing[1] * factor)
    capture = _secondary_capture(display, spacing, image.modality, identifiers)
    return Sources([capture], capture, notes)
