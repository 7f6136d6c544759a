"""One image's labels as a person edits them: each structure's outlines as polygons, the located findings as
circles, and the image's class, all in the image's own pixels (x to the right, y down, integer values at pixel
centres); the models' answer as a first proposal; and what the person changed against it.

>>> square = ImageLabels((6, 6), {"lung": [np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 4.0], [1.0, 4.0]])]})
>>> int(square.label_map(["lung"]).sum())
16
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from medlib.display.marks import outline_paths
from medlib.targets import Finding

SHIFT = 4
"""Fractional bits of the polygon filler: outlines are filled at 1/16 of a pixel."""
DETAIL = 0.004
"""How far (a share of its perimeter) a proposed outline's polygon may stray from the model's edge: about 40
vertices for a lung, few enough to edit by hand."""
MIN_PART_PX = 4
"""Parts of a model's label map smaller than this (pixels of the map) are specks, not outlines to edit."""
MOVED_PX = 0.5
"""A vertex or a circle that moved more than this (image pixels) was changed by the person."""


@dataclass
class ImageLabels:
    """The labels of one image of ``size`` (height, width)."""

    size: tuple[int, int]
    outlines: dict[str, list[np.ndarray]] = field(default_factory=dict)
    """Each structure's polygons, (N, 2) arrays of x, y."""
    findings: list[Finding] = field(default_factory=list)
    """The located findings, each a circle (centre, radius)."""
    label: str | None = None
    """The image's class, where the set has classes."""

    def label_map(self, structures: Sequence[str]) -> np.ndarray:
        """The outlines filled into an H×W uint8 map at the image's size: value ``k + 1`` inside the outlines of
        ``structures[k]`` (a later structure drawn over an earlier one where they overlap)."""
        out = np.zeros(self.size, np.uint8)
        for value, name in enumerate(structures, 1):
            polygons = [np.round(p * (1 << SHIFT)).astype(np.int32) for p in self.outlines.get(name, []) if len(p) > 2]
            if polygons:
                cv2.fillPoly(out, polygons, value, cv2.LINE_8, SHIFT)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"size": list(self.size), "label": self.label,
                "outlines": {name: [np.round(p, 3).tolist() for p in parts] for name, parts in self.outlines.items()},
                "findings": [f.to_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageLabels:
        return cls((int(data["size"][0]), int(data["size"][1])),
                   {name: [np.asarray(p, np.float64).reshape(-1, 2) for p in parts]
                    for name, parts in data.get("outlines", {}).items()},
                   [Finding.from_dict(f) for f in data.get("findings", [])], data.get("label"))


def outlines_of(label_map: np.ndarray, structures: Sequence[str], size: tuple[int, int]) -> dict[str, list[np.ndarray]]:
    """The outlines of a label map (values ``1..K`` the ``structures``; any size) as editable polygons in the pixels
    of an image of ``size``: each part's outer edge, simplified to :data:`DETAIL`, specks left out."""
    out: dict[str, list[np.ndarray]] = {}
    scale = size[1] / label_map.shape[1]
    if scale > 1:  # traced at the image's size: an edge through the map's own edge pixels would lose half of one
        label_map = cv2.resize(np.asarray(label_map, np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    for value, name in enumerate(structures, 1):
        parts = []
        for path in outline_paths(label_map == value, size):
            if cv2.contourArea(path.astype(np.float32)) < MIN_PART_PX * scale * scale:
                continue
            closed = path[:-1].astype(np.float32)
            simple = cv2.approxPolyDP(closed, DETAIL * cv2.arcLength(closed, True), True)[:, 0, :]
            parts.append((simple if len(simple) > 2 else closed).astype(np.float64))
        if parts:
            out[name] = parts
    return out


def _dice(before: np.ndarray, after: np.ndarray) -> float:
    total = int(before.sum()) + int(after.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(before, after).sum()) / total


def _same_outline(before: list[np.ndarray], after: list[np.ndarray]) -> bool:
    if len(before) != len(after):
        return False
    return all(a.shape == b.shape and float(np.abs(a - b).max(initial=0.0)) <= MOVED_PX
               for a, b in zip(before, after, strict=True))


def _circle_changes(before: Sequence[Finding], after: Sequence[Finding]) -> dict[str, int]:
    """How many of the proposed circles were kept as they were, moved (or resized), or removed, and how many added:
    each proposed circle is matched to the nearest saved one whose centre lies within its radius (at least 3 px)."""
    left = list(after)
    tally = {"kept": 0, "moved": 0, "removed": 0}
    for proposed in before:
        reach = max(proposed.radius or 0.0, 3.0)
        distances = [float(np.hypot(*np.subtract(f.centre, proposed.centre))) for f in left]
        if not distances or min(distances) > reach:
            tally["removed"] += 1
            continue
        match = left.pop(int(np.argmin(distances)))
        still = min(distances) <= MOVED_PX and abs((match.radius or 0.0) - (proposed.radius or 0.0)) <= MOVED_PX
        tally["kept" if still else "moved"] += 1
    return tally | {"added": len(left)}


def changes(before: ImageLabels, after: ImageLabels) -> dict[str, Any]:
    """What a person changed against the proposal ``before`` to save ``after``: per structure of either, the outline
    Dice before and after and whether it was corrected (a part or vertex added, removed or moved); the circles kept,
    moved, removed and added; the class before and after."""
    names = list(dict.fromkeys([*before.outlines, *after.outlines]))
    outlines = {}
    for name in names:
        was, now = before.outlines.get(name, []), after.outlines.get(name, [])
        dice = _dice(ImageLabels(before.size, {name: was}).label_map([name]) > 0,
                     ImageLabels(after.size, {name: now}).label_map([name]) > 0)
        outlines[name] = {"dice": round(dice, 4), "corrected": not _same_outline(was, now)}
    return {"outlines": outlines, "circles": _circle_changes(before.findings, after.findings),
            "class": {"before": before.label, "after": after.label,
                      "changed": before.label is not None and before.label != after.label}}


def changes_summary(all_changes: Sequence[dict[str, Any]]) -> str:
    """One line of what the person changed over the saved images: ``you corrected 7 of 20 outlines; ...``."""
    if not all_changes:
        return "nothing saved yet"
    outlines = [o for c in all_changes for o in c["outlines"].values()]
    circles = {k: sum(c["circles"][k] for c in all_changes) for k in ("kept", "moved", "removed", "added")}
    proposed = circles["kept"] + circles["moved"] + circles["removed"]
    classes = [c["class"] for c in all_changes if c["class"]["before"] is not None]
    parts = [f"you corrected {sum(o['corrected'] for o in outlines)} of {len(outlines)} outlines"]
    parts.append(f"moved {circles['moved']} and removed {circles['removed']} of {proposed} proposed circles, "
                 f"added {circles['added']}")
    if classes:
        parts.append(f"changed the class of {sum(c['changed'] for c in classes)} of {len(classes)} images")
    return "; ".join(parts) + f" ({len(all_changes)} image{'s' if len(all_changes) > 1 else ''} saved)"
