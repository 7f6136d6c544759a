"""Pictures for people: 8-bit display scaling, mask outlines and enlarged thumbnails."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from medlib.datasets.partial import labelled_map
from medlib.targets import Finding

OUTLINE_COLOR = (255, 64, 64)
FINDING_COLOR = (255, 214, 0)
STRUCTURE_COLORS = ((64, 160, 255), (255, 96, 64), (80, 220, 120), (220, 120, 255), (255, 180, 40),
                    (40, 220, 220), (255, 110, 180), (170, 170, 60))
"""One colour per structure of a label map (value 1 the first), distinct on a gray film."""


def structure_color(value: int) -> tuple[int, int, int]:
    """The colour of label value ``value`` (1..K) in every picture and legend."""
    return STRUCTURE_COLORS[(value - 1) % len(STRUCTURE_COLORS)]


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


def draw_label_map(image: np.ndarray, labels: np.ndarray, thickness: int = 0) -> np.ndarray:
    """The uint8 image in RGB with each structure of ``labels`` (values 1..K) outlined in its colour."""
    out = as_rgb(image).copy()
    for value in (v for v in np.unique(labels).tolist() if v > 0):
        out = draw_outline(out, labels == value, structure_color(int(value)), thickness)
    return out


def draw_findings(image: np.ndarray, findings: Sequence[Finding], scale: float = 1.0,
                  color: tuple[int, int, int] = FINDING_COLOR, numbered: bool = False) -> np.ndarray:
    """The uint8 image in RGB with each finding drawn: a box as a rectangle, a point as a circle of its radius
    (a small cross where it has none); ``scale`` maps the findings' pixels onto this picture's."""
    out = as_rgb(image).copy()
    thickness = max(1, round(max(out.shape[:2]) / 256))
    for number, finding in enumerate(findings, start=1):
        x, y = (round((v + 0.5) * scale - 0.5) for v in finding.centre)
        if finding.box is not None:
            x0, y0, x1, y1 = (round((v + 0.5) * scale - 0.5) for v in finding.box)
            cv2.rectangle(out, (x0, y0), (x1, y1), color, thickness)
        elif finding.radius:
            cv2.circle(out, (x, y), max(2, round(finding.radius * scale) + 2 * thickness), color, thickness)
        else:
            cv2.drawMarker(out, (x, y), color, cv2.MARKER_CROSS, 6 * thickness, thickness)
        if numbered:
            cv2.putText(out, str(number), (x + 4 * thickness, y - 4 * thickness), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4 * thickness, color, thickness)
    return out


def draw_targets(picture: np.ndarray, height: int, mask: np.ndarray | None = None,
                 findings: Sequence[Finding] = (), named: bool = False, thickness: int = 0) -> np.ndarray:
    """A picture (uint8, any size) of an image ``height`` pixels high with its targets drawn: the mask (at the
    image's size) outlined, in each structure's colour where ``named`` (several structures), and the findings
    (in the image's pixels)."""
    out = as_rgb(picture)
    if mask is not None:
        mask = cv2.resize(np.ascontiguousarray(labelled_map(mask), np.uint8), (out.shape[1], out.shape[0]),
                          interpolation=cv2.INTER_NEAREST)
        out = draw_label_map(out, mask, thickness) if named else draw_outline(out, mask, thickness=thickness)
    return draw_findings(out, findings, out.shape[0] / height) if findings else out
