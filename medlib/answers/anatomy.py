"""Measurements on a chest film's anatomy label map (right lung, left lung, heart): the cardiothoracic ratio, and
where a finding lies (which lung, which zone).

- **Cardiothoracic ratio**: the heart's widest horizontal extent over the thorax's widest inner extent, measured
  from the lungs' outer edges on one row (Danzer's ratio; above 0.5 on a PA film suggests an enlarged heart, on an
  AP film the heart looks larger).
- **Place**: the lung a point lies in (or the nearer one, within :data:`NEAR_MM`), and its zone: the upper, middle
  or lower third of that lung's height.

Right and left are the patient's: on a frontal film the right lung lies on the image's left.

>>> labels = np.zeros((10, 12), np.uint8); labels[1:9, 1:5] = 1; labels[1:9, 7:11] = 2; labels[5:8, 4:9] = 3
>>> cardiothoracic_ratio(labels, ["right lung", "left lung", "heart"])["cardiothoracic_ratio"]
0.5
>>> place((2.0, 2.0), labels, ["right lung", "left lung", "heart"])
('right lung', 'upper')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

RIGHT_LUNG, LEFT_LUNG, HEART = "right lung", "left lung", "heart"
ANATOMY = (RIGHT_LUNG, LEFT_LUNG, HEART)
"""The structures the cardiothoracic ratio rests on."""
VIEWS = ("PA", "AP")
"""The frontal views whose ratio reads differently: the heart, nearer the film on a PA film, is enlarged on AP."""
ENLARGED = 0.5
"""The ratio above which a PA film suggests an enlarged heart."""
ZONES = ("upper", "middle", "lower")
NEAR_MM, NEAR_PX = 10.0, 6.0
"""How far outside a lung (mm; pixels where the spacing is unknown) a point still counts as in it."""


def _value(structures: Sequence[str], name: str) -> int | None:
    """The label-map value of the structure called ``name`` (any case), or None where there is none."""
    lowered = [s.strip().lower() for s in structures]
    return lowered.index(name) + 1 if name in lowered else None


def view_of(metadata: dict[str, Any] | None) -> str | None:
    """A frontal film's view (PA or AP) from its DICOM ``ViewPosition``; None where it is not given or another.

    >>> view_of({"ViewPosition": "pa"}), view_of({"ViewPosition": "LL"}), view_of(None)
    ('PA', None, None)
    """
    view = str((metadata or {}).get("ViewPosition", "")).strip().upper()
    return view if view in VIEWS else None


def _reading(ratio: float, view: str | None) -> str:
    """What a ratio says on a film of ``view``."""
    if view == "AP":
        return (f"an AP film (from its DICOM ViewPosition): the heart looks larger on AP films, so the {ENLARGED} "
                "limit of PA films does not apply; compare with a PA film")
    where = "a PA film (from its DICOM ViewPosition)" if view == "PA" else "a PA film (the view is not given; on an " \
        "AP film the heart looks larger)"
    if ratio > ENLARGED:
        return f"above {ENLARGED} on {where} suggests an enlarged heart"
    return f"at most {ENLARGED}: within the usual range on {where}"


def has_anatomy(structures: Sequence[str]) -> bool:
    """Whether a label map of these structures holds both lungs and the heart."""
    return all(_value(structures, name) is not None for name in (RIGHT_LUNG, LEFT_LUNG, HEART))


def cardiothoracic_ratio(labels: np.ndarray, structures: Sequence[str], spacing: float | None = None,
                         view: str | None = None) -> dict[str, Any] | None:
    """The cardiothoracic ratio of a label map, with both widths (pixels, and mm at ``spacing``), the film's view
    (PA, AP or None: not given) and the reading for that view; None where the map lacks a lung or the heart."""
    if not has_anatomy(structures):
        return None
    right, left, heart = (np.asarray(labels) == _value(structures, n) for n in (RIGHT_LUNG, LEFT_LUNG, HEART))
    if not (right.any() and left.any() and heart.any()):
        return None
    columns = np.nonzero(heart.any(axis=0))[0]
    heart_width = int(columns[-1] - columns[0] + 1)
    both = np.flatnonzero(right.any(axis=1) & left.any(axis=1))
    if both.size == 0:
        return None
    # On each row both lungs cross, from the outer edge of the lung on the image's left to the other's outer edge.
    outer_left = np.array([min(np.flatnonzero(right[r]).min(), np.flatnonzero(left[r]).min()) for r in both])
    outer_right = np.array([max(np.flatnonzero(right[r]).max(), np.flatnonzero(left[r]).max()) for r in both])
    widest = int(np.argmax(outer_right - outer_left))
    thorax_width = int(outer_right[widest] - outer_left[widest] + 1)
    ratio = round(heart_width / thorax_width, 3)
    out: dict[str, Any] = {"cardiothoracic_ratio": ratio, "heart_width_px": heart_width,
                           "thorax_width_px": thorax_width, "thorax_row": int(both[widest]),
                           "heart_columns": [int(columns[0]), int(columns[-1])],
                           "thorax_columns": [int(outer_left[widest]), int(outer_right[widest])],
                           "view": view, "reading": _reading(ratio, view)}
    if spacing:
        out["heart_width_mm"] = round(heart_width * spacing, 1)
        out["thorax_width_mm"] = round(thorax_width * spacing, 1)
    return out


def place(centre: tuple[float, float], labels: np.ndarray, structures: Sequence[str],
          spacing: float | None = None) -> tuple[str, str] | None:
    """The lung a point (x, y in the map's pixels) lies in, or the nearer lung within :data:`NEAR_MM`, and its zone
    (the third of that lung's height it lies in); None where it lies in no lung or the map has no lungs."""
    labels = np.asarray(labels)
    x, y = centre
    near = NEAR_MM / spacing if spacing else NEAR_PX
    best: tuple[float, str] | None = None
    for name in (RIGHT_LUNG, LEFT_LUNG):
        value = _value(structures, name)
        if value is None:
            continue
        rows, columns = np.nonzero(labels == value)
        if rows.size == 0:
            continue
        distance = float(np.sqrt(((rows - y) ** 2 + (columns - x) ** 2).min()))
        if distance <= near and (best is None or distance < best[0]):
            best = (distance, name)
    if best is None:
        return None
    rows = np.nonzero(labels == _value(structures, best[1]))[0]
    top, bottom = rows.min(), rows.max()
    third = int(np.clip((y - top) / max(bottom - top + 1, 1) * 3, 0, 2))
    return best[1], ZONES[third]
