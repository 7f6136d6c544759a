"""What a viewer draws as vectors over an image: the outlines of a label map as paths, and labels for round marks
placed where they neither collide nor leave the picture.

>>> place_labels([(50.0, 50.0), (54.0, 50.0)], [4.0, 4.0], (100, 100), (8.0, 8.0))
[(54.243, 37.757), (41.757, 37.757)]
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: The directions tried for a label around its mark, in order: upper right first (where a reader looks), then
#: round the clock.
_DIRECTIONS = tuple((np.cos(a), -np.sin(a)) for a in np.radians([45, 135, 315, 225, 90, 0, 270, 180]))


def outline_paths(mask: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    """The outer edges of each part of ``mask`` (any size) as closed (N, 2) paths of (x, y) points in the pixels of
    an image of ``size`` (height, width) that the mask covers."""
    found, _ = cv2.findContours(np.asarray(mask, np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    scale = np.array([size[1] / mask.shape[1], size[0] / mask.shape[0]])
    return [np.vstack([c[:, 0, :], c[:1, 0, :]]).astype(float) * scale + (scale - 1) / 2 for c in found if len(c) > 2]


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(centres: Sequence[tuple[float, float]], radii: Sequence[float], size: tuple[int, int],
                 box: tuple[float, float]) -> list[tuple[float, float]]:
    """The top-left corner (x, y) of a ``box`` (width, height) label for each round mark (centre (x, y), radius):
    beside its mark, inside the picture of ``size`` (height, width), clear of the labels placed before it and of
    every mark's circle where a place allows; else the first place inside the picture clear of the other labels,
    searched outwards."""
    width, height = box
    circles = [(x - r, y - r, x + r, y + r) for (x, y), r in zip(centres, radii, strict=True)]
    placed: list[tuple[float, float, float, float]] = []
    corners = []
    for (x, y), radius in zip(centres, radii, strict=True):
        best = None
        for reach in (radius + 2, radius + 2 + height, radius + 2 + 2 * height, radius + 2 + 4 * height,
                      max(size) / 4, max(size) / 2, float(max(size))):
            free = []  # the places at this reach clear of the labels placed before
            for dx, dy in _DIRECTIONS:
                left = min(max(x + dx * reach - (0 if dx >= 0 else width), 0.0), size[1] - width)
                top = min(max(y + dy * reach - (height if dy < 0 else 0), 0.0), size[0] - height)
                rect = (left, top, left + width, top + height)
                if not any(_overlaps(rect, other) for other in placed):
                    free.append(rect)
            clear = [rect for rect in free if not any(_overlaps(rect, circle) for circle in circles)]
            if free:
                best = (clear or free)[0]
                break
        best = best or (0.0, 0.0, width, height)
        placed.append(best)
        corners.append((round(float(best[0]), 3), round(float(best[1]), 3)))
    return corners
