"""An image's size and channel count from its header, without decoding its pixels.

Data sets use it to plan one size for all their images before reading any of them.

>>> import cv2, numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "film.png"
>>> _ = cv2.imwrite(str(path), np.zeros((30, 20, 3), np.uint8))
>>> image_header(path)
(30, 20, 3)
"""

from __future__ import annotations

import warnings
from pathlib import Path

from medlib.input.sniff import sniff_format

#: Pillow modes with colour: palette and CMYK images are read as RGB.
_COLOUR_MODES = ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV")


def _pillow(path: Path) -> tuple[int, int, int]:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            width, height = im.size
            return height, width, 3 if im.mode in _COLOUR_MODES else 1


def _dicom(path: Path) -> tuple[int, int, int]:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    palette = str(ds.get("PhotometricInterpretation", "")) == "PALETTE COLOR"
    colour = int(ds.get("SamplesPerPixel", 1) or 1) > 1 or palette
    return int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0), 3 if colour else 1


def _tiff(path: Path) -> tuple[int, int, int]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        shape = dict(zip(series.axes, series.shape, strict=True))
    return int(shape.get("Y", 0)), int(shape.get("X", 0)), 3 if shape.get("S", 1) >= 3 else 1


_PROBES = {"png": _pillow, "jpeg": _pillow, "bmp": _pillow, "gif": _pillow, "dicom": _dicom, "tiff": _tiff}


def image_header(path: Path) -> tuple[int, int, int] | None:
    """(height, width, channels as the readers return them: 1 or 3) from the file's header.

    ``None`` where the format has no cheap header (NIfTI, .npy) or the header cannot be read: the caller
    then decodes the file, and the reader's own error, if any, names what is wrong.
    """
    with open(path, "rb") as handle:
        fmt = sniff_format(handle.read(512), path.name)
    probe = _PROBES.get(fmt or "")
    if probe is None:
        return None
    try:
        height, width, channels = probe(path)
    except Exception:  # a damaged header: decoding the file gives the reader's clear error instead
        return None
    return (height, width, channels) if height > 0 and width > 0 else None

