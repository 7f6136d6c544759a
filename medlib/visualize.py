"""Pictures for people: 8-bit display scaling, mask outlines and enlarged thumbnails."""

from __future__ import annotations

import cv2
import numpy as np

OUTLINE_COLOR = (255, 64, 64)


def scale_to_uint8(image: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Map ``low..high`` (default: the image's own range) to 0..255; a constant image becomes black.

    >>> scale_to_uint8(np.array([[0.0, 5.0, 10.0]])).tolist()
    [[0, 128, 255]]
    """
    values = np.nan_to_num(np.asarray(image, dtype=np.float32))
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    if high <= low:
        return np.zeros(values.shape, np.uint8)
    return np.round(np.clip((values - low) / (high - low), 0.0, 1.0) * 255.0).astype(np.uint8)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An H×W or H×W×1 uint8 image as H×W×3 (colour images pass through)."""
    if image.ndim == 3 and image.shape[-1] == 3:
        return np.ascontiguousarray(image)
    gray = image[..., 0] if image.ndim == 3 else image
    return np.repeat(gray[..., None], 3, axis=-1)


def draw_outline(
    image: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] = OUTLINE_COLOR, thickness: int = 0
) -> np.ndarray:
    """The uint8 image in RGB with the outline of ``mask`` (non-zero pixels) drawn on it.

    ``thickness`` 0 picks one pixel per 256 of the image's long side.
    """
    out = as_rgb(image).copy()
    contours, _ = cv2.findContours((mask > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    thickness = thickness or max(1, round(max(mask.shape) / 256))
    cv2.drawContours(out, contours, -1, color, thickness)
    return out


def shrink(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """``image`` (H×W or H×W×C) shrunk by area averaging until its long side is at most ``max_side``, and the
    factor used (1.0: unchanged, also for ``None``).

    >>> picture, factor = shrink(np.zeros((400, 100, 1), np.float32), 200); picture.shape, factor
    ((200, 50, 1), 0.5)
    """
    factor = 1.0 if max_side is None else min(1.0, max_side / max(image.shape[:2]))
    if factor == 1.0:
        return image, factor
    width, height = max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA).reshape(height, width,
                                                                                    *image.shape[2:]), factor


def enlarge(image: np.ndarray, min_side: int = 256) -> np.ndarray:
    """Upscale a small image (nearest neighbour, whole factor) so its short side reaches ``min_side``."""
    factor = max(1, int(np.ceil(min_side / max(1, min(image.shape[:2])))))
    if factor == 1:
        return image
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
