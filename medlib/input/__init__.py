"""One entry point for every image format: :func:`read_image`.

>>> import numpy as np, io
>>> buf = io.BytesIO(); np.save(buf, np.eye(4)); img = read_image(buf.getvalue(), name="eye.npy")
>>> img.format, img.pixels.shape
('npy', (4, 4))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from medlib.errors import CorruptFileError, EmptyFileError, ImageTooLargeError, MedlibError, NotAnImageError
from medlib.input.dicom import read_dicom, read_dicom_series, series_uid
from medlib.input.image import MedImage
from medlib.input.metaimage import read_metaimage
from medlib.input.nifti import read_nifti
from medlib.input.npy import read_npy
from medlib.input.raster import read_pillow, read_tiff
from medlib.input.sniff import sniff_format
from medlib.limits import limit, raise_hint

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO

__all__ = ["MedImage", "Upload", "read_bytes", "read_dicom_series", "read_image", "read_series", "read_uploads",
           "sniff_format"]


def read_bytes(source: Source, cap: str = "max_file_mb") -> tuple[bytes, str]:
    """The bytes and the name of a path, a bytes object or a binary file, refused over the limit ``cap``."""
    most = limit(cap)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), ""
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise NotAnImageError(f"{path} is not a file; check the path")
        if path.stat().st_size > most:
            raise ImageTooLargeError(f"{path.name} is {path.stat().st_size:,} bytes, too large ({raise_hint(cap)})")
        data, name = path.read_bytes(), path.name
    else:
        data = source.read(most + 1)
        name = str(getattr(source, "name", ""))
    if len(data) > most:
        raise ImageTooLargeError(f"{name or 'the file'} is too large: downscale or split it ({raise_hint(cap)})")
    return data, name


EXTENSION_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".gif": "GIF", ".tif": "TIFF",
                     ".tiff": "TIFF", ".nii": "NIfTI", ".gz": "NIfTI", ".mha": "MetaImage", ".mhd": "MetaImage",
                     ".npy": "NumPy"}
"""The format a file's extension promises, to say what its contents are not."""


def _not_an_image(name: str, head: bytes) -> str:
    """Why a file's bytes are no image: what its name promised (a text file named ``.png``: its contents are not a
    PNG), else the formats medlib reads."""
    shown = name or "the file"
    promised = EXTENSION_FORMATS.get(Path(name).suffix.lower()) if name else None
    text = head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:256])
    contents = " (they are text)" if text else ""
    if promised:
        return (f"its contents are not a {promised} file{contents}, although the name {shown} ends in "
                f"{Path(name).suffix}; it may be damaged or renamed. Export the image again as PNG, JPEG, TIFF or "
                "DICOM")
    return (f"{shown} is not an image format medlib reads{contents} (DICOM, PNG, JPEG, BMP, GIF, TIFF, NIfTI "
            ".nii/.nii.gz, MetaImage .mha, NumPy .npy)")


def read_image(source: Source, name: str | None = None, reduce_to: int | None = None) -> MedImage:
    """Read one image file (path, bytes or binary file) whatever its format.

    ``name`` is the original file name of uploaded bytes; it only helps when
    the bytes alone do not tell the format (``.dcm`` without a preamble,
    ``.nii.gz``). ``reduce_to`` lets a large JPEG be decoded at a reduced scale
    whose long side is still at least that many pixels (for data sets that shrink it anyway); the image then
    records the file's own size (``source_size``).
    """
    data, own_name = read_bytes(source)
    name = name or own_name
    if not data:
        raise EmptyFileError(f"{name or 'the file'} is empty (0 bytes); upload the file again")
    fmt = sniff_format(data[:512], name)
    if fmt is None:
        raise NotAnImageError(_not_an_image(name, data[:512]))
    try:
        if fmt == "dicom":
            return read_dicom(data)
        if fmt == "tiff":
            return read_tiff(data)
        if fmt in ("nifti", "nifti-gz"):
            return read_nifti(data, gzipped=fmt == "nifti-gz")
        if fmt == "npy":
            return read_npy(data)
        if fmt == "metaimage":
            return read_metaimage(data)
        return read_pillow(data, fmt, reduce_to)
    except MedlibError:
        raise
    except Exception as exc:  # a decoder library failing on damaged bytes in a way not caught above
        raise CorruptFileError(
            f"{name or 'the file'} looks like {fmt.upper()} but could not be decoded "
            f"({type(exc).__name__}: {exc}); it is probably damaged, export it again"
        ) from exc


@dataclass
class Upload:
    """One image made of uploaded files: a file, or the DICOM files of one series; ``error`` where it fails."""

    name: str
    image: MedImage | None = None
    error: str | None = None


def read_uploads(sources: Sequence[Source], names: Sequence[str], reduce_to: int | None = None) -> list[Upload]:
    """Uploaded files as the images they make, in upload order: every non-DICOM file is an image of its own,
    the DICOM files that share a ``SeriesInstanceUID`` form one series (a DICOM file without one stands alone),
    and a file that cannot be read is an :class:`Upload` with its ``error``, so the others still open.
    ``reduce_to``: as :func:`read_image`'s, for a front end that shows and works on no more pixels."""
    order: list[str | Upload] = []
    groups: dict[str, list[tuple[bytes, str]]] = {}
    for source, name in zip(sources, names, strict=True):
        try:
            data, _ = read_bytes(source)
        except MedlibError as exc:
            order.append(Upload(name, error=f"{name}: {exc}"))
            continue
        uid = series_uid(data) if sniff_format(data[:512], name) == "dicom" else None
        key = f"series:{uid}" if uid else f"file:{len(order)}"
        if key not in groups:
            order.append(key)
            groups[key] = []
        groups[key].append((data, name))
    return [item if isinstance(item, Upload) else _read_group(groups[item], reduce_to) for item in order]


def _read_group(members: list[tuple[bytes, str]], reduce_to: int | None) -> Upload:
    names = [name for _, name in members]
    label = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more (one series)"
    try:
        return Upload(label, read_series([data for data, _ in members], names, reduce_to))
    except MedlibError as exc:
        return Upload(label, error=f"{label}: {exc}")


def read_series(sources: Sequence[Source], names: Sequence[str] | None = None, reduce_to: int | None = None
                ) -> MedImage:
    """Read several DICOM files of one series as one stack, or one file of any format.

    ``names`` are the uploaded files' names, in the order of ``sources``; ``reduce_to`` as :func:`read_image`'s.
    """
    if len(sources) == 1:
        return read_image(sources[0], name=names[0] if names else None, reduce_to=reduce_to)
    return read_dicom_series([read_bytes(s)[0] for s in sources])
