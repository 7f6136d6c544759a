"""MetaImage (``.mha``: header and pixels in one file; ``.mhd`` whose pixels are ``LOCAL``) through SimpleITK: the
format of NODE21's films and nodule patches and of grand-challenge.org. A 3-D image is a stack of slices along its
third axis (ITK's z, slices from the array's first axis), a 2-D one a single frame.

The header is read and checked here first (its sizes against the limits, its element type), so that a hostile
header claiming a huge image is refused before SimpleITK allocates anything.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from medlib.errors import CorruptFileError, UnsupportedEncodingError
from medlib.input.common import check_size
from medlib.input.image import MedImage

ELEMENT_TYPES = {"MET_UCHAR": "uint8", "MET_CHAR": "int8", "MET_USHORT": "uint16", "MET_SHORT": "int16",
                 "MET_UINT": "uint32", "MET_INT": "int32", "MET_FLOAT": "float32", "MET_DOUBLE": "float64"}
"""The element types read, and the NumPy type each is."""
_HEADER_MOST = 64 * 1024
"""Where the header must have ended (its ``ElementDataFile`` line)."""


def metaimage_header(data: bytes) -> dict[str, str]:
    """The header's ``key = value`` lines, up to and with ``ElementDataFile``; a damaged header raises one line.

    >>> head = b"NDims = 2\\nDimSize = 4 3\\nElementType = MET_UCHAR\\nElementDataFile = LOCAL\\n"
    >>> metaimage_header(head + bytes(12))
    {'NDims': '2', 'DimSize': '4 3', 'ElementType': 'MET_UCHAR', 'ElementDataFile': 'LOCAL'}
    """
    end = data.find(b"ElementDataFile", 0, _HEADER_MOST)
    if end < 0:
        raise CorruptFileError("the MetaImage header has no ElementDataFile line in its first 64 KB; the file is "
                               "damaged or not a MetaImage")
    line_end = data.find(b"\n", end)
    text = data[: len(data) if line_end < 0 else line_end].decode("latin-1")
    header = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            header[key.strip()] = value.strip()
    return header


def _check(header: dict[str, str]) -> tuple[int, ...]:
    """The image's sizes (x, y[, z]) from a checked header."""
    try:
        dims = int(header.get("NDims", "0"))
        sizes = tuple(int(v) for v in header.get("DimSize", "").split())
    except ValueError:
        raise CorruptFileError(f"the MetaImage header's NDims or DimSize is not a whole number "
                               f"({header.get('NDims')!r}, {header.get('DimSize')!r}); the file is damaged") from None
    if dims not in (2, 3) or len(sizes) != dims:
        raise CorruptFileError(f"the MetaImage header declares {dims} dimensions of sizes {sizes}; medlib reads 2-D "
                               "and 3-D images")
    check_size(sizes[1], sizes[0], sizes[2] if dims == 3 else 1,
               int(header.get("ElementNumberOfChannels", "1") or 1), what="MetaImage")
    kind = header.get("ElementType", "")
    if kind not in ELEMENT_TYPES:
        raise UnsupportedEncodingError(f"the MetaImage element type {kind or 'is missing'} is not read; save it as "
                                       f"one of {', '.join(ELEMENT_TYPES)}")
    if header.get("ElementNumberOfChannels", "1") not in ("1", ""):
        raise UnsupportedEncodingError("MetaImage images of several channels are not read; save one channel")
    if header.get("ElementDataFile") != "LOCAL":
        raise UnsupportedEncodingError(f"this MetaImage header keeps its pixels in {header.get('ElementDataFile')!r}; "
                                       "save it as one .mha file (pixels inside)")
    return sizes


def read_metaimage(data: bytes) -> MedImage:
    """Read a MetaImage (pixels in the file) as a stack of frames, values as stored (the stored type in
    ``metadata['MetaImageType']``), with its spacing (rows, columns) and slice spacing."""
    import SimpleITK as sitk

    header = metaimage_header(data)
    sizes = _check(header)
    handle, path = tempfile.mkstemp(suffix=".mha")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        reader = sitk.ImageFileReader()
        reader.SetImageIO("MetaImageIO")
        reader.SetFileName(path)
        try:
            image = reader.Execute()
        except RuntimeError as exc:
            reason = str(exc).strip().splitlines()[-1][:160] if str(exc).strip() else type(exc).__name__
            raise CorruptFileError(f"the MetaImage pixels could not be read ({reason}); the file is truncated or "
                                   "damaged, export it again") from None
    finally:
        os.unlink(path)
    array = sitk.GetArrayFromImage(image)
    if array.shape != tuple(reversed(sizes)):
        raise CorruptFileError(f"the MetaImage holds {array.shape[::-1]} pixels where its header declares {sizes}")
    spacing = tuple(float(v) for v in image.GetSpacing())
    frames = array if array.ndim == 3 else array[None]
    return MedImage(frames[..., None].astype(np.float32), format="metaimage", spacing=(spacing[1], spacing[0]),
                    photometric="MONOCHROME2", slice_spacing=spacing[2] if len(spacing) > 2 else None,
                    metadata={"MetaImageType": ELEMENT_TYPES[header["ElementType"]], "MetaImageSize": list(sizes)})
