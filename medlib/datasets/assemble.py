"""Bring images of mixed sizes and channels to one array, saying what was changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from medlib.errors import DatasetError, ImageTooLargeError, MedlibError
from medlib.limits import MAX_DATASET_SIDE, MAX_DATASET_VALUES
from medlib.readers import read_image


def read_frame(path: Path) -> tuple[np.ndarray, bool]:
    """The first frame of an image file as H×W×C float32, and whether it had more frames."""
    try:
        image = read_image(path)
    except MedlibError as exc:
        raise type(exc)(f"{path.name}: {exc}") from exc
    return image.data[0], image.frames > 1


def read_mask(path: Path) -> np.ndarray:
    """A mask file as H×W uint8 in {0, 1}: any non-zero value (in any channel) is foreground."""
    frame, _ = read_frame(path)
    return (frame.max(axis=-1) > 0).astype(np.uint8)


def _target_size(sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    height, width = Counter(sizes).most_common(1)[0][0]
    scale = min(1.0, MAX_DATASET_SIDE / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _to_channels(frame: np.ndarray, channels: int) -> np.ndarray:
    if frame.shape[-1] == channels:
        return frame
    if channels == 1:
        return frame.mean(axis=-1, keepdims=True)
    return np.repeat(frame, 3, axis=-1)


def stack_images(
    frames: Sequence[np.ndarray],
    masks: Sequence[np.ndarray | None] | None = None,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Stack H×W×C frames (and their H×W masks) into (N, H, W, C) and (N, H, W).

    The target size is the most common one (shrunk to at most
    ``MAX_DATASET_SIDE`` on its long side) and the channels are the most
    common count. Each change made is returned as a note. A mask whose size
    differs from its image raises :class:`DatasetError`: it most likely belongs
    to another image.
    """
    if not frames:
        raise DatasetError("no images were found; check the folder layout (see the README's data formats)")
    names = list(names) if names is not None else [str(i) for i in range(len(frames))]
    sizes = [(int(f.shape[0]), int(f.shape[1])) for f in frames]
    height, width = _target_size(sizes)
    channels = 3 if sum(f.shape[-1] == 3 for f in frames) * 2 > len(frames) else 1
    total = len(frames) * height * width * channels
    if total > MAX_DATASET_VALUES:
        raise ImageTooLargeError(
            f"{len(frames):,} images of {height}×{width}×{channels} need {total * 4 / 2**30:.1f} GiB; "
            "use fewer or smaller images"
        )
    notes: list[str] = []
    resized = sum(size != (height, width) for size in sizes)
    if resized:
        notes.append(f"{resized} image(s) resized to {height}×{width} (the most common size)")
    converted = sum(f.shape[-1] != channels for f in frames)
    if converted:
        notes.append(f"{converted} image(s) converted to {'RGB' if channels == 3 else 'gray'}")
    images = np.empty((len(frames), height, width, channels), np.float32)
    out_masks = np.zeros((len(frames), height, width), np.uint8) if masks is not None else None
    for index, frame in enumerate(frames):
        frame = _to_channels(frame, channels)
        if frame.shape[:2] != (height, width):
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        images[index] = frame.reshape(height, width, channels)
        if masks is None or out_masks is None or masks[index] is None:
            continue
        mask = masks[index]
        assert mask is not None
        if mask.shape[:2] != sizes[index]:
            raise DatasetError(
                f"the mask of {names[index]} is {mask.shape[1]}×{mask.shape[0]} but the image is "
                f"{sizes[index][1]}×{sizes[index][0]}; check that each mask belongs to its image"
            )
        if mask.shape[:2] != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        out_masks[index] = mask
    return images, out_masks, notes
