"""Checks shared by every reader: size limits and the frames×H×W×C layout."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medlib.errors import ImageTooLargeError
from medlib.limits import limit, raise_hint


def check_size(height: int, width: int, frames: int = 1, channels: int = 1, *, what: str = "image") -> None:
    """Refuse an image whose header declares more pixels than the limits allow.

    Called on header values, before any pixel is decoded (no decompression bombs).
    """
    if height <= 0 or width <= 0 or frames <= 0:
        raise ImageTooLargeError(
            f"the {what} header declares an empty size ({frames} x {height} x {width}); the file is damaged"
        )
    if height * width > limit("max_frame_pixels"):
        raise ImageTooLargeError(
            f"the {what} declares {height} x {width} = {height * width:,} pixels per frame: downscale it before "
            f"uploading ({raise_hint('max_frame_pixels')})"
        )
    total = height * width * frames * channels
    if total > limit("max_file_values"):
        raise ImageTooLargeError(
            f"the {what} declares {total:,} values ({frames} frames of {height} x {width} x {channels}): upload "
            f"fewer frames or a smaller image ({raise_hint('max_file_values')})"
        )


def to_fhwc(array: np.ndarray, axes: Sequence[str]) -> np.ndarray:
    """Reorder an array with named axes to (frames, H, W, C), float32.

    ``axes`` names each axis: ``Y`` rows, ``X`` columns, ``S`` channels; any
    other letter is a frame-like axis (pages, slices, time) and these are
    flattened into one frames axis in their order.
    """
    axes = list(axes)
    if len(axes) != array.ndim:
        raise ValueError(f"axes {axes} do not match an array of shape {array.shape}")
    if "S" not in axes:
        array = array[..., None]
        axes.append("S")
    frame_axes = [i for i, a in enumerate(axes) if a not in "YXS"]
    order = frame_axes + [axes.index("Y"), axes.index("X"), axes.index("S")]
    out = np.transpose(array, order)
    out = out.reshape((-1, *out.shape[-3:]))
    return out.astype(np.float32, copy=False)


def drop_alpha(data: np.ndarray) -> np.ndarray:
    """Keep gray or RGB: drop an alpha channel (LA → L, RGBA → RGB)."""
    channels = data.shape[-1]
    if channels == 2:
        return data[..., :1]
    if channels >= 4:
        return data[..., :3]
    return data
