"""Whether each outlined structure of a label map is plausible: present, in one main part, of an area and at a place
within what the model's training films showed. An outline that fails is unreliable: the page and the report say so,
and no measurement rests on it (a wrong cardiothoracic ratio is worse than none).

>>> labels = np.zeros((20, 20), np.uint8); labels[2:18, 2:8] = 1
>>> facts = structure_facts(labels, ["lung"])["lung"]
>>> facts["share"], facts["main_part"]
(0.24, 1.0)
>>> implausible(labels, ["lung"], {"lung": {"share": [0.3, 0.5]}}, {"lung": 1.0})
{'lung': 'its area (24% of the image) is outside what the training films showed (30%–50%)'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

MAIN_PART = 0.8
"""The share of a structure's pixels its largest connected part must hold, before stray pieces are dropped."""
MARGIN = 0.25
"""Each range of the training films is widened by this share of its width on either side."""
RANGES = ("share", "centre_x", "centre_y")
"""What a range is kept of: the share of the image a structure covers, and its centre (a share of the width and of
the height)."""


def main_part(mask: np.ndarray) -> float:
    """The share of ``mask``'s pixels in its largest connected part (8-connected); 0 for an empty mask."""
    count, parts, stats, _ = cv2.connectedComponentsWithStats(np.asarray(mask, np.uint8), connectivity=8)
    total = int(stats[1:, cv2.CC_STAT_AREA].sum()) if count > 1 else 0
    return float(stats[1:, cv2.CC_STAT_AREA].max() / total) if total else 0.0


def structure_facts(labels: np.ndarray, structures: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each structure's share of the image, centre (shares of width and height) and main part's share; the
    structures absent from ``labels`` are left out."""
    labels = np.asarray(labels)
    facts = {}
    for value, name in enumerate(structures, start=1):
        rows, columns = np.nonzero(labels == value)
        if rows.size == 0:
            continue
        facts[name] = {"share": round(rows.size / labels.size, 4),
                       "centre_x": round(columns.mean() / labels.shape[1], 4),
                       "centre_y": round(rows.mean() / labels.shape[0], 4),
                       "main_part": round(main_part(labels == value), 4)}
    return facts


def structure_ranges(label_maps: np.ndarray, structures: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    """The range of each structure's share and centre over ``label_maps`` (N×H×W, a model's training masks): the 1st
    to 99th percentiles, widened by :data:`MARGIN` of their width on either side."""
    seen: dict[str, dict[str, list[float]]] = {name: {key: [] for key in RANGES} for name in structures}
    for labels in np.asarray(label_maps):
        for name, facts in structure_facts(np.squeeze(labels), structures).items():
            for key in RANGES:
                seen[name][key].append(facts[key])
    ranges = {}
    for name, values in seen.items():
        if values["share"]:
            low_high = {key: np.percentile(v, [1, 99]) for key, v in values.items()}
            ranges[name] = {key: [round(float(lo - MARGIN * (hi - lo)), 4), round(float(hi + MARGIN * (hi - lo)), 4)]
                            for key, (lo, hi) in low_high.items()}
    return ranges


def implausible(labels: np.ndarray, structures: Sequence[str], ranges: Mapping[str, Mapping[str, Sequence[float]]],
                main_parts: Mapping[str, float]) -> dict[str, str]:
    """Why each implausible structure of ``labels`` is so, in words (the plausible ones are left out): absent, in
    pieces (``main_parts``: each structure's largest part's share before stray pieces were dropped), or of an area
    or at a place outside ``ranges`` (:func:`structure_ranges` of the training films; a structure without one is
    judged on the first two only)."""
    facts = structure_facts(labels, structures)
    reasons = {}
    for name in structures:
        if name not in facts:
            reasons[name] = "not found on this film"
            continue
        if main_parts.get(name, 1.0) < MAIN_PART:
            reasons[name] = (f"in pieces: its largest part holds only {main_parts[name]:.0%} of what was outlined "
                             f"(at least {MAIN_PART:.0%} wanted)")
            continue
        limits = ranges.get(name, {})
        if "share" in limits and not limits["share"][0] <= facts[name]["share"] <= limits["share"][1]:
            low, high = limits["share"]
            reasons[name] = (f"its area ({facts[name]['share']:.0%} of the image) is outside what the training films "
                             f"showed ({max(low, 0):.0%}–{high:.0%})")
            continue
        for key, axis in (("centre_x", "across"), ("centre_y", "down")):
            if key in limits and not limits[key][0] <= facts[name][key] <= limits[key][1]:
                reasons[name] = (f"it lies at {facts[name][key]:.0%} of the way {axis} the image, outside where the "
                                 f"training films had it ({max(limits[key][0], 0):.0%}–{min(limits[key][1], 1):.0%})")
                break
    return reasons
