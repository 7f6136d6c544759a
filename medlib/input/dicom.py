"""DICOM through pydicom and the pylibjpeg plugins.

Pixel values come out after the modality transform (rescale slope and
intercept: Hounsfield units for CT). A VOI LUT table in the file is applied;
a window centre/width in the file becomes the image's default window.
MONOCHROME1 images are inverted, so that higher always means brighter.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from medlib.errors import CorruptFileError, NoPixelDataError, NotAnImageError, UnsupportedEncodingError
from medlib.input.common import check_size, to_fhwc
from medlib.input.deid import safe_dicom_metadata
from medlib.input.dicom_geometry import dicom_affine, dicom_references
from medlib.input.image import MedImage, Window

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _parse(data: bytes) -> pydicom.Dataset:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except (InvalidDicomError, EOFError, ValueError, TypeError, KeyError, OverflowError, AttributeError) as exc:
        raise CorruptFileError(f"the DICOM file is truncated or corrupt ({exc}); export it again") from exc
    truncated = any("end of file" in str(w.message).lower() for w in caught)
    if truncated:
        raise CorruptFileError("the DICOM file ends before its last element: it is truncated; copy or export it again")
    standard = [tag for tag in ds.keys() if tag.group >= 0x0008 and dictionary_has_tag(tag)]
    if not standard or (data[128:132] != b"DICM" and len(standard) < 3):
        raise NotAnImageError("the file is not DICOM (no DICOM elements found); check that you chose the right file")
    return ds


def _transfer_syntax(ds: pydicom.Dataset) -> str:
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if uid is None:
        return "unknown transfer syntax"
    return f"{uid.name} ({uid})"


def _values(value: Any) -> list[Any]:
    """A DICOM value of one or several items as a list (none where empty)."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]


def _first(value: Any) -> float | None:
    values = _values(value)
    return float(values[0]) if values else None


def _windows(ds: pydicom.Dataset) -> list[tuple[str, Window]]:
    """Each window the file gives (``WindowCenter``/``WindowWidth`` pairs of positive width), named by its
    ``WindowCenterWidthExplanation`` where there is one."""
    centers = [float(v) for v in _values(ds.get("WindowCenter"))]
    widths = [float(v) for v in _values(ds.get("WindowWidth"))]
    names = [str(n) for n in _values(ds.get("WindowCenterWidthExplanation"))]
    return [(names[k].strip() if k < len(names) and names[k].strip() else f"window {k + 1}", Window(c, w))
            for k, (c, w) in enumerate(zip(centers, widths, strict=False)) if w > 0]


def _spacing(ds: pydicom.Dataset) -> tuple[float, float] | None:
    """The pixel spacing in mm (rows, columns); ``None`` where the file gives none, or gives 0 (unknown, as some
    writers put it) or a value that is not a positive number."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is not None and len(value) == 2:
            try:
                rows, columns = float(value[0]), float(value[1])
            except (TypeError, ValueError):
                continue
            if rows > 0 and columns > 0 and np.isfinite(rows) and np.isfinite(columns):
                return rows, columns
    return None


def _decode_pixels(ds: pydicom.Dataset) -> np.ndarray:
    syntax = _transfer_syntax(ds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ds.pixel_array
    except NotImplementedError as exc:
        raise UnsupportedEncodingError(
            f"no installed decoder handles the DICOM transfer syntax {syntax}; convert the file to an "
            "uncompressed or JPEG 2000 syntax (for example with dcmtk's dcmdjpeg) and upload it again"
        ) from exc
    except Exception as exc:  # pydicom and its plugins raise many types on bad pixel data
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "no pixel data decoders" in message.lower() or "unable to decode" in message.lower():
            raise UnsupportedEncodingError(
                f"the DICOM pixel data in {syntax} could not be decoded by any installed plugin ({message}); "
                "convert the file to an uncompressed syntax and upload it again"
            ) from exc
        raise CorruptFileError(
            f"the DICOM pixel data ({syntax}) is damaged or does not match its header ({message}); "
            "export the image again"
        ) from exc


def _invert_range(ds: pydicom.Dataset, pixels: np.ndarray, voi_applied: bool) -> tuple[float, float]:
    """The value range that MONOCHROME1 inversion mirrors (the stored range after rescale)."""
    bits = int(ds.get("BitsStored", 0) or 0)
    if voi_applied or bits <= 0:
        return float(np.nanmin(pixels)), float(np.nanmax(pixels))
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    ends = sorted((low * slope + intercept, high * slope + intercept))
    return ends[0], ends[1]


def decode_dataset(ds: pydicom.Dataset) -> MedImage:
    """Turn a parsed pydicom dataset into a :class:`MedImage`."""
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        modality = ds.get("Modality", "unknown modality")
        raise NoPixelDataError(
            f"this DICOM file ({modality}, {_transfer_syntax(ds)}) holds no pixel data: it is a report, "
            "plan or index, not an image; upload an image object instead"
        )
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    check_size(rows, cols, frames, samples, what="DICOM image")

    pixels = _decode_pixels(ds)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    windows: list[tuple[str, Window]] = []
    metadata = safe_dicom_metadata(ds)
    metadata["TransferSyntax"] = _transfer_syntax(ds)

    if photometric == "PALETTE COLOR":
        pixels = apply_color_lut(pixels, ds)
        if pixels.dtype == np.uint16:  # 16-bit palette entries: show on the usual 0..255 scale
            pixels = pixels / 257.0
        photometric = "RGB"
    elif samples == 1:
        modality_values = apply_modality_lut(pixels, ds)
        voi_applied = "VOILUTSequence" in ds
        if voi_applied:
            if np.array_equal(modality_values, np.rint(modality_values)):  # the LUT indexes integers
                modality_values = modality_values.astype(np.int64)
            pixels = np.asarray(apply_voi_lut(modality_values, ds, prefer_lut=True), dtype=np.float32)
            metadata["VOILUTApplied"] = True
        else:
            pixels = np.asarray(modality_values, dtype=np.float32)
            windows = _windows(ds)
        if photometric == "MONOCHROME1":
            low, high = _invert_range(ds, pixels, voi_applied)
            pixels = (low + high) - pixels
            windows = [(name, Window(low + high - w.center, w.width)) for name, w in windows]
            metadata["InvertedFromMONOCHROME1"] = True
            photometric = "MONOCHROME2"
    else:
        photometric = "RGB"  # pydicom converts YBR_* to RGB while decoding

    is_stack = frames > 1
    color = pixels.ndim == (4 if is_stack else 3)
    axes = ("F" if is_stack else "") + "YX" + ("S" if color else "")
    thickness = _first(ds.get("SpacingBetweenSlices")) or _first(ds.get("SliceThickness"))
    references = dicom_references([ds], frames)
    return MedImage(
        to_fhwc(np.asarray(pixels), axes),
        format="dicom",
        modality=str(ds.get("Modality")) if ds.get("Modality") else None,
        spacing=_spacing(ds),
        photometric=photometric,
        window=windows[0][1] if windows else None,
        windows=tuple(windows),
        metadata=metadata,
        slice_spacing=thickness,
        affine=dicom_affine(references, frames) if frames == 1 else None,
        references=references,
    )


def read_dicom(data: bytes) -> MedImage:
    """Read one DICOM file's bytes.

    >>> from pydicom.data import get_testdata_file
    >>> img = read_dicom(open(get_testdata_file("CT_small.dcm"), "rb").read())
    >>> img.modality, img.pixels.shape
    ('CT', (128, 128))
    """
    return decode_dataset(_parse(data))


def series_uid(data: bytes) -> str | None:
    """The SeriesInstanceUID of a DICOM file's bytes (header only), or ``None`` where it has none or is damaged."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        uid = ds.get("SeriesInstanceUID")
    except Exception:  # a damaged file: reading it as an image gives the clear error
        return None
    return str(uid) if uid else None


def _slice_position(ds: pydicom.Dataset, fallback: int) -> tuple[float, float]:
    position = ds.get("ImagePositionPatient")
    orientation = ds.get("ImageOrientationPatient")
    if position is not None and orientation is not None and len(position) == 3 and len(orientation) == 6:
        normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
        return float(np.dot(normal, np.asarray(position, float))), float(fallback)
    return float(ds.get("InstanceNumber", fallback) or fallback), float(fallback)


def read_dicom_series(files: Sequence[bytes]) -> MedImage:
    """Read the files of one DICOM series as a stack of slices, in anatomical order."""
    if not files:
        raise NotAnImageError("no files were given for the DICOM series")
    parsed = [_parse(data) for data in files]
    order = sorted(range(len(parsed)), key=lambda i: _slice_position(parsed[i], i))
    images = [decode_dataset(parsed[i]) for i in order]
    shapes = {img.data.shape[1:] for img in images}
    if len(shapes) != 1:
        raise CorruptFileError(f"the series mixes image sizes {sorted(shapes)}; upload the files of one series only")
    first = images[0]
    stack = np.concatenate([img.data for img in images], axis=0)
    metadata = dict(first.metadata, NumberOfFrames=int(stack.shape[0]))
    references = dicom_references([parsed[i] for i in order])
    return MedImage(
        stack,
        format="dicom",
        modality=first.modality,
        spacing=first.spacing,
        photometric=first.photometric,
        window=first.window,
        windows=first.windows,
        metadata=metadata,
        slice_spacing=first.slice_spacing,
        affine=dicom_affine(references, len(images)),
        references=references,
    )
