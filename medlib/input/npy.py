"""NumPy ``.npy`` arrays, read without ever unpickling."""

from __future__ import annotations

import io

import numpy as np

from medlib.errors import CorruptFileError, NotAnImageError, UnsupportedEncodingError
from medlib.input.common import check_size, drop_alpha, to_fhwc
from medlib.input.image import MedImage


def _axes_for(shape: tuple[int, ...]) -> str:
    if len(shape) == 2:
        return "YX"
    if len(shape) == 3:
        return "YXS" if shape[-1] in (1, 3, 4) else "FYX"
    if len(shape) == 4:
        return "FYXS"
    raise NotAnImageError(f"a .npy image must have 2 to 4 dimensions (H×W, H×W×C, F×H×W or F×H×W×C), got shape {shape}")


def read_npy(data: bytes) -> MedImage:
    """Read a numeric ``.npy`` array as an image; object arrays are refused."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    except ValueError as exc:
        raise CorruptFileError(f"the .npy header is damaged ({exc}); save the array again") from exc
    if dtype.hasobject:
        raise UnsupportedEncodingError(
            "this .npy holds Python objects, which could run code when loaded; save a numeric array instead"
        )
    if dtype.kind not in "biuf":
        raise UnsupportedEncodingError(f"a .npy image must be numeric, got dtype {dtype}")
    axes = _axes_for(tuple(shape))
    sizes = dict(zip(axes, shape, strict=True))
    check_size(sizes["Y"], sizes["X"], sizes.get("F", 1), sizes.get("S", 1), what=".npy array")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise CorruptFileError(f"the .npy file is truncated ({exc}); save the array again") from exc
    fhwc = drop_alpha(to_fhwc(array, axes))
    photometric = "RGB" if fhwc.shape[-1] == 3 else "MONOCHROME2"
    return MedImage(fhwc, format="npy", photometric=photometric)
