"""Label maps of sets that label some structures only (partial labels): where a set does not label a structure,
its background pixels are not known to be free of it. Such a pixel holds :data:`UNKNOWN` plus one bit per structure
it may belong to (value ``k`` the bit ``1 << (k - 1)``); a pixel of a labelled structure keeps its value ``k``. The
values survive every resize and augmentation of a label map (nearest pixel), so a run leaves each unknown structure
out of the loss there, and scoring leaves it out of that image's figures.

>>> marked = mark_unknown(np.array([[0, 1], [2, 0]], np.uint8), [3])
>>> marked.tolist(), unknown_values(marked), labelled_map(marked).tolist()
([[132, 1], [2, 132]], [3], [[0, 1], [2, 0]])
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

UNKNOWN = 128
"""The first value of a background pixel whose structures are not all known (at most 7 structures can be)."""
LUNG_FIELDS = ("lung field", "lung fields", "lungs", "lung")
"""Names of one structure that holds both lungs, which a set that labels each lung apart can take (by side)."""


def mark_unknown(mask: np.ndarray, values: Sequence[int]) -> np.ndarray:
    """``mask`` with its background pixels marked as possibly of the structures ``values`` (1..7)."""
    if not values:
        return mask
    if max(values) > 7:
        raise ValueError("a label map marks at most 7 structures as unknown")
    bits = sum(1 << (v - 1) for v in values)
    return np.where(mask == 0, UNKNOWN + bits, mask).astype(np.uint8)


def unknown_values(mask: np.ndarray) -> list[int]:
    """The structure values a label map does not label (none for a fully labelled one)."""
    marked = np.unique(mask[mask >= UNKNOWN]).astype(int) - UNKNOWN
    bits = int(np.bitwise_or.reduce(marked)) if marked.size else 0
    return [k + 1 for k in range(7) if bits >> k & 1]


def labelled_map(mask: np.ndarray) -> np.ndarray:
    """The label map with its possibly-unknown background as background: what a picture or a count shows."""
    return np.where(mask >= UNKNOWN, 0, mask).astype(mask.dtype)


def known(truth: np.ndarray, value: int) -> bool:
    """Whether the label map labels structure ``value`` (no pixel marks it unknown)."""
    marked = truth[truth >= UNKNOWN]
    return not marked.size or not np.any((marked.astype(int) - UNKNOWN) >> (value - 1) & 1)


def split_sides(mask: np.ndarray) -> np.ndarray:
    """A lung-field mask (any value above 0, both lungs) as two structures by side: 1 the patient's right lung (the
    film's left half, a frontal film seen as the patient faces the viewer), 2 the left; each connected part goes to
    the side of its centre."""
    count, parts = cv2.connectedComponents((mask > 0).astype(np.uint8))
    out = np.zeros(mask.shape, np.uint8)
    middle = mask.shape[1] / 2
    for part in range(1, count):
        where = parts == part
        out[where] = 1 if np.nonzero(where)[1].mean() < middle else 2
    return out
