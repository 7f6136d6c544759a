"""Read the images of a data set into one array: each brought to the data set's size as it is read and kept
in the type it is stored in (8-bit stays 8-bit), so memory follows the data set's stored size.

The size is planned from the files' headers before any pixel is decoded (:func:`plan_size`): images of
one size keep it; images of many sizes become squares, their aspect kept with padding or stretched to fill.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medlib.errors import DatasetError, DatasetTooLargeError, MedlibError
from medlib.geometry import Record, fit_record
from medlib.input import read_image
from medlib.limits import MAX_DATASET_SIDE, MIXED_SIZE_SIDE, limit, raise_hint
from medlib.targets import Structures, unnamed_structures

FITS = ("pad", "stretch")
"""How images of many sizes become squares: ``pad`` keeps the aspect and pads, ``stretch`` fills the square."""

#: Stored types, narrowest first: an image is kept in the first that holds its values exactly.
_TYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.int16))


@dataclass(frozen=True)
class CommonSize:
    """The one size every image of a data set is brought to, and how.

    ``fit`` is ``as read`` (every image had this size), ``scaled`` (one size, shrunk to the side limit),
    ``pad`` or ``stretch`` (many sizes, brought to a square).
    """

    height: int
    width: int
    fit: str

    def record(self, size: tuple[int, int]) -> Record:
        """The steps that bring an image of ``size`` (height, width) to this geometry (invert them to bring a
        map or a point back onto the image as its file had it)."""
        return fit_record(tuple(size), (self.height, self.width), keep_aspect=self.fit == "pad")

    def fit_frame(self, frame: np.ndarray, nearest: bool = False, fill: float | None = None) -> np.ndarray:
        """``frame`` (H×W or H×W×C) at this geometry; padding takes ``fill``, by default the frame's smallest value."""
        if frame.shape[:2] == (self.height, self.width):
            return frame
        return self.record(frame.shape[:2]).move(frame, nearest, frame.min() if fill is None else fill)


def plan_size(sizes: Sequence[tuple[int, int]], fit: str = "pad") -> tuple[CommonSize, str | None]:
    """The geometry for images of ``sizes`` (height, width), and a note saying what changes, if anything.

    One size is kept (shrunk to ``MAX_DATASET_SIDE`` on its long side where larger, aspect kept). Many sizes
    become squares of the median long side, at most ``MIXED_SIZE_SIDE``, by ``fit``.

    >>> plan_size([(100, 80)] * 3)
    (CommonSize(height=100, width=80, fit='as read'), None)
    >>> plan_size([(1000, 800), (600, 900), (300, 300)])[0]
    CommonSize(height=512, width=512, fit='pad')
    """
    if fit not in FITS:
        raise DatasetError(f"unknown fit {fit!r}; choose one of {', '.join(FITS)}")
    if not sizes:
        raise DatasetError("no images were found; check the folder layout (see the README's data formats)")
    distinct = Counter(sizes)
    if len(distinct) == 1:
        height, width = sizes[0]
        scale = min(1.0, MAX_DATASET_SIDE / max(height, width))
        if scale == 1.0:
            return CommonSize(height, width, "as read"), None
        geometry = CommonSize(max(1, round(height * scale)), max(1, round(width * scale)), "scaled")
        return geometry, f"every image shrunk to {geometry.width}×{geometry.height} (at most {MAX_DATASET_SIDE} a side)"
    side = int(min(MIXED_SIZE_SIDE, np.median([max(s) for s in sizes])))
    how = "aspect kept, padded" if fit == "pad" else "stretched to fill"
    note = (f"{len(sizes)} images of {len(distinct)} sizes brought to {side}×{side} ({how}; the median long side, "
            f"at most {MIXED_SIZE_SIDE})")
    return CommonSize(side, side, fit), note


def stored_type(frame: np.ndarray) -> np.dtype:
    """The narrowest of uint8, uint16 and int16 that holds every value of ``frame`` exactly, else float32.

    >>> stored_type(np.array([0.0, 255.0])), stored_type(np.array([0.0, 4095.0])), stored_type(np.array([0.5]))
    (dtype('uint8'), dtype('uint16'), dtype('float32'))
    """
    if frame.size == 0 or not np.all(np.isfinite(frame)) or not np.array_equal(frame, np.round(frame)):
        return np.dtype(np.float32)
    low, high = float(frame.min()), float(frame.max())
    return next((t for t in _TYPES if np.iinfo(t).min <= low and high <= np.iinfo(t).max), np.dtype(np.float32))


def wider_type(a: np.dtype, b: np.dtype) -> np.dtype:
    """The narrowest stored type holding both ``a``'s and ``b``'s values exactly."""
    if a == b:
        return a
    kinds = (*_TYPES, np.dtype(np.float32))
    if {a, b} == {np.dtype(np.uint16), np.dtype(np.int16)}:
        return np.dtype(np.float32)  # neither holds the other: 0..65535 and negative values
    return max(a, b, key=kinds.index)


class ImageStack:
    """A preallocated (N, H, W, C) array filled image by image, widened to a broader type when an image needs one."""

    def __init__(self, count: int, geometry: CommonSize, channels: int) -> None:
        values = count * geometry.height * geometry.width * channels
        if values > limit("max_dataset_mb"):
            raise DatasetTooLargeError(
                f"{count:,} images of {geometry.height}×{geometry.width}×{channels} need at least "
                f"{values / 2**20:,.0f} MB: use fewer or smaller images, or train from disk on the command line "
                f"(python -m medlib train caches such a folder or ZIP itself; python -m medlib cache DATA --out DIR "
                f"writes the cache alone) ({raise_hint('max_dataset_mb')})"
            )
        self.geometry, self.channels = geometry, channels
        self.array = np.zeros((count, geometry.height, geometry.width, channels), np.uint8)

    def put(self, index: int, frame: np.ndarray) -> None:
        """Store ``frame`` (H×W×C float32 as read) at ``index``: channels matched, fitted, in its stored type."""
        kind = stored_type(frame)
        if frame.shape[-1] != self.channels:
            frame = frame.mean(axis=-1, keepdims=True) if self.channels == 1 else np.repeat(frame, 3, axis=-1)
        fitted = self.geometry.fit_frame(frame).reshape(self.array.shape[1:])
        wider = wider_type(self.array.dtype, kind)
        if wider != self.array.dtype:
            if wider.itemsize * self.array.size > limit("max_dataset_mb"):
                raise DatasetTooLargeError(f"{self.array.shape[0]:,} images of {self.array.shape[1:]} as {wider} "
                                         f"are too large to hold: use fewer or smaller images "
                                         f"({raise_hint('max_dataset_mb')})")
            self.array = self.array.astype(wider)
        if self.array.dtype.kind in "ui":
            info = np.iinfo(self.array.dtype)
            fitted = np.clip(np.round(fitted), info.min, info.max)
        self.array[index] = fitted


def read_frame(path: Path, reduce_to: int | None = None) -> tuple[np.ndarray, bool]:
    """The first frame of an image file as H×W×C float32, and whether it had more frames.

    ``reduce_to``: a large JPEG may be decoded at a reduced scale keeping at least this long side.
    """
    try:
        image = read_image(path, reduce_to=reduce_to)
    except MedlibError as exc:
        raise type(exc)(f"{path.name}: {exc}") from exc
    return image.data[0], image.frames > 1


def read_mask(path: Path, structures: Structures | None = None) -> np.ndarray:
    """A mask file as an H×W uint8 label map: 0 the background, 1..K the ``structures`` (by default the one
    structure of a mask with one foreground value; a mask of several unnamed values raises)."""
    frame, _ = read_frame(path)
    frame = frame.max(axis=-1)
    return (structures or unnamed_structures(frame, path.name)).encode(frame, path.name)


def fit_mask(mask: np.ndarray, size: tuple[int, int], geometry: CommonSize, what: str) -> np.ndarray:
    """A mask of an image of ``size`` (height, width) brought to ``geometry`` (nearest neighbour, padded with 0).

    A mask whose size differs from its image raises :class:`DatasetError`: it most likely belongs to another image.
    """
    if mask.shape[:2] != size:
        raise DatasetError(
            f"the mask of {what} is {mask.shape[1]}×{mask.shape[0]} but the image is {size[1]}×{size[0]}; "
            "check that each mask belongs to its image"
        )
    return geometry.fit_frame(mask, nearest=True, fill=0)
