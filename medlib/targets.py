"""What a sample is labelled with besides its class: a label map of named structures, and located findings.

A label map is stored as values 0 (background) to K, one per named structure (:class:`Structures`); the
names come from a ``labels.json`` (``{"labels": {value: name}}``, the Medical Segmentation Decathlon's form) or
a Decathlon ``dataset.json``. A plain mask with one foreground value (0/1, 0/255) is the one-structure case.
A mask with several values and no names is refused: guessing would merge structures silently.

A finding is a point with a radius or a box, in pixels of its image (x to the right, y down, the centre of
the top-left pixel at 0, 0), with a label.

>>> Structures.from_json({"labels": {"0": "background", "150": "right lung", "200": "left lung"}}).names
('right lung', 'left lung')
>>> Finding.from_row({"x": "10", "y": "20", "radius_px": "3"}, "nodule", "row 2").centre
(10.0, 20.0)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medlib.errors import DatasetError
from medlib.geometry import Record, index_to_xy, xy_to_index

LABELS_FILE = "labels.json"
ONE_STRUCTURE = "foreground"
"""The name of the structure of a plain mask that no ``labels.json`` names."""
_BACKGROUND = {"background", "bg", "none", "0"}


@dataclass(frozen=True)
class Structures:
    """The named structures of a label map: ``values[i]`` in the files is structure ``i + 1`` in memory."""

    names: tuple[str, ...]
    values: tuple[int, ...]

    @classmethod
    def from_json(cls, document: Mapping[str, Any], where: str = LABELS_FILE) -> Structures:
        """The structures of a ``{"labels": {value: name}}`` document; value 0 is the background."""
        labels = document.get("labels") if isinstance(document, Mapping) else None
        if not isinstance(labels, Mapping) or not labels:
            raise DatasetError(f'{where} needs a "labels" object of value: name pairs, e.g. '
                               '{"labels": {"0": "background", "1": "lesion"}}')
        named: dict[int, str] = {}
        for value, name in labels.items():
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise DatasetError(f"{where}: label value {value!r} is not a whole number; use 0 to 255") from None
            if not 0 <= number <= 255 or not str(name).strip():
                raise DatasetError(f"{where}: label {value!r}: {name!r} needs a value 0 to 255 and a name")
            named[number] = str(name).strip()
        if 0 in named and named[0].lower() not in _BACKGROUND:
            raise DatasetError(f"{where}: value 0 is the background, but it is named {named[0]!r}")
        values = tuple(sorted(v for v in named if v != 0))
        if not values:
            raise DatasetError(f"{where} names no structure besides the background")
        return cls(tuple(named[v] for v in values), values)

    @classmethod
    def read(cls, path: Path) -> Structures:
        """The structures of a ``labels.json`` or ``dataset.json`` file."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{path.name} cannot be read as JSON ({exc}); fix or remove it") from exc
        return cls.from_json(document, path.name)

    @classmethod
    def single(cls, value: int = 1, name: str = ONE_STRUCTURE) -> Structures:
        return cls((name,), (value,))

    def encode(self, frame: np.ndarray, what: str) -> np.ndarray:
        """A mask as read (H×W or D×H×W, any type) as uint8 0..K in this order; a value no name covers raises."""
        values = np.unique(frame)
        unknown = sorted(set(values.tolist()) - {0, *self.values})
        if unknown:
            shown = ", ".join(f"{v:g}" for v in unknown[:8])
            raise DatasetError(f"the mask of {what} holds value(s) {shown} that no structure is named for "
                               f"({', '.join(f'{v} {n}' for v, n in zip(self.values, self.names, strict=True))}); "
                               f"name them in {LABELS_FILE}")
        out = np.zeros(frame.shape, np.uint8)
        for index, value in enumerate(self.values, start=1):
            out[frame == value] = index
        return out


NEGATIVE_CLASSES = ("normal", "no finding", "no_finding", "healthy", "negative", "none", "benign")
"""Class names that say *no finding*: such a class is class 0 of a set, so that a two-class model's class 1, whose
probability it thresholds, is the finding (nodule, pneumonia, tumour), whatever the alphabet says."""


def class_order(names: Iterable[str]) -> list[str]:
    """Class names in the order a data set numbers them: alphabetical, except that a class saying *no finding*
    (:data:`NEGATIVE_CLASSES`) comes first.

    >>> class_order({"nodule", "normal"}), class_order({"PNEUMONIA", "NORMAL"}), class_order({"cat", "dog"})
    (['normal', 'nodule'], ['NORMAL', 'PNEUMONIA'], ['cat', 'dog'])
    """
    ordered = sorted(names)
    negative = [n for n in ordered if n.strip().lower() in NEGATIVE_CLASSES]
    return negative[:1] + [n for n in ordered if n not in negative[:1]]


def unnamed_structures(frame: np.ndarray, what: str) -> Structures:
    """The structure of a mask that no file names: one foreground value (any, e.g. 1 or 255) is one structure;
    several are refused with the values found and how to name them."""
    values = [v for v in np.unique(frame).tolist() if v != 0]
    if len(values) <= 1:
        return Structures.single(int(values[0]) if values else 1)
    shown = ", ".join(f"{v:g}" for v in values[:8]) + (f" and {len(values) - 8} more" if len(values) > 8 else "")
    example = ", ".join(f'"{v:g}": "name"' for v in values[:3])
    raise DatasetError(f"the mask of {what} holds {len(values)} foreground values ({shown}) and nothing names "
                       f'them: add a {LABELS_FILE} beside the masks, e.g. '
                       f'{{"labels": {{"0": "background", {example}}}}}, or save the masks with one foreground value')


@dataclass(frozen=True)
class Finding:
    """A located finding on an image (pixels: x to the right, y down): a point with an optional radius, or a box. The
    one form of a finding in and out: a data set's truth has no score; a model's candidate has its score and, once
    placed on an outlined image, the structure and zone it lies in."""

    label: str
    centre: tuple[float, float]
    radius: float | None = None
    box: tuple[float, float, float, float] | None = None
    """(x0, y0, x1, y1), where the finding is a box."""
    score: float | None = None
    """A model's score of it (0..1), as the user reads it (calibrated where the model is); ``None`` for a truth."""
    structure: str | None = None
    """The outlined structure it lies in (``right lung``), where an anatomy model placed it."""
    zone: str | None = None
    """Its zone in that structure (``upper``, ``middle``, ``lower``)."""

    @property
    def kind(self) -> str:
        return "box" if self.box is not None else "point"

    @classmethod
    def from_row(cls, row: Mapping[str, str], label: str, where: str) -> Finding | None:
        """The finding of a manifest row (``x, y`` [``radius_px``] or ``x0, y0, x1, y1``), or None where the row
        gives none; bad values raise naming ``where``. :meth:`check_inside` checks it against its image."""
        def number(column: str) -> float | None:
            text = (row.get(column) or "").strip()
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                raise DatasetError(f"{where}: {column} = {text!r} is not a number") from None
            if not np.isfinite(value):
                raise DatasetError(f"{where}: {column} = {text!r} is not a finite number")
            return value

        x0, y0, x1, y1 = (number(c) for c in ("x0", "y0", "x1", "y1"))
        if None not in (x0, y0, x1, y1):
            if x1 < x0 or y1 < y0:
                raise DatasetError(f"{where}: the box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) has x1 < x0 or y1 < y0; "
                                   "give x0, y0 as the top-left corner")
            return cls(label, ((x0 + x1) / 2, (y0 + y1) / 2), box=(x0, y0, x1, y1))
        x, y, radius = number("x"), number("y"), number("radius_px")
        if x is None or y is None:
            return None
        if radius is not None and radius < 0:
            raise DatasetError(f"{where}: radius_px = {radius:g} is negative; give the radius in pixels (0 or more)")
        return cls(label, (x, y), radius=radius)

    def check_inside(self, size: tuple[int, int], where: str) -> None:
        """Raise where the finding does not lie on an image of ``size`` (height, width)."""
        height, width = size
        for x, y in self.corners():
            if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
                raise DatasetError(f"{where}: the point ({x:g}, {y:g}) lies outside its {width}×{height} image; "
                                   "give x and y in pixels of the image (x to the right, y down)")

    def to_dict(self) -> dict[str, Any]:
        scored = {} if self.score is None else {"score": self.score, "structure": self.structure, "zone": self.zone}
        return {"label": self.label, "kind": self.kind, "centre": list(self.centre), "radius_px": self.radius,
                "box": None if self.box is None else list(self.box)} | scored

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        box = data.get("box")
        return cls(str(data["label"]), (float(data["centre"][0]), float(data["centre"][1])),
                   None if data.get("radius_px") is None else float(data["radius_px"]),
                   None if box is None else (float(box[0]), float(box[1]), float(box[2]), float(box[3])))

    def corners(self) -> np.ndarray:
        """The points that locate it, as an (n, 2) array of x, y: the centre, and a box's two corners."""
        points = [self.centre] + ([] if self.box is None else [self.box[:2], self.box[2:]])
        return np.asarray(points, np.float64)

    def placed(self, corners: np.ndarray, scale: float = 1.0) -> Finding:
        """This finding at new ``corners`` (as :meth:`corners` gives them), its radius times ``scale``."""
        box = None if self.box is None else (*np.minimum(corners[1], corners[2]), *np.maximum(corners[1], corners[2]))
        return dataclasses.replace(self, centre=(float(corners[0][0]), float(corners[0][1])),
                                   radius=None if self.radius is None else self.radius * scale,
                                   box=None if box is None else tuple(float(v) for v in box))

    def size_mm(self, spacing: tuple[float, float] | None) -> float | None:
        """Its diameter (a box's longer side) in mm at ``spacing`` (mm a pixel: rows, columns), where known."""
        if spacing is None:
            return None
        if self.box is not None:
            return max((self.box[2] - self.box[0]) * spacing[1], (self.box[3] - self.box[1]) * spacing[0])
        return None if self.radius is None else 2 * self.radius * spacing[1]


def move_findings(findings: Sequence[Finding], record: Record, shape: tuple[int, ...]) -> list[Finding]:
    """``findings`` on an image of ``shape`` where ``record``'s steps put them (a radius scaled with them)."""
    return [f.placed(index_to_xy(record.move_points(xy_to_index(f.corners()), tuple(shape[:2]))), record.factor())
            for f in findings]


DEFAULT_RADIUS = 3.0
"""The radius (pixels) a point finding without one is drawn with."""


def render_findings(findings: Sequence[Finding], size: tuple[int, int], labels: Sequence[str],
                    each: bool = False) -> np.ndarray:
    """A label map (H×W uint8) of ``findings`` on an image of ``size`` (height, width): a disk per point (its
    radius, at least one pixel; :data:`DEFAULT_RADIUS` where it has none), a filled box per box, each of value
    ``labels.index(label) + 1``; where findings overlap, the later one wins. ``each``: finding ``j`` (0-based) of
    label ``k`` gets its own value ``1 + k + j·len(labels)``, so each can be told apart after it moved
    (:func:`finding_parts`).

    >>> render_findings([Finding("nodule", (2.0, 2.0), 1.0)], (5, 5), ["nodule"])[1:4, 1:4].tolist()
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    """
    height, width = size
    out = np.zeros((height, width), np.uint8)
    rows, columns = np.mgrid[0:height, 0:width]
    if each and len(findings) * len(labels) > 255:
        raise DatasetError(f"{len(findings)} findings on one image are more than a map of 255 values holds")
    for j, finding in enumerate(findings):
        value = labels.index(finding.label) + 1 + (j * len(labels) if each else 0)
        if finding.box is not None:
            x0, y0, x1, y1 = finding.box
            inside = (columns >= x0 - 0.5) & (columns <= x1 + 0.5) & (rows >= y0 - 0.5) & (rows <= y1 + 0.5)
        else:
            radius = max(1.0, DEFAULT_RADIUS if finding.radius is None else finding.radius)
            x, y = finding.centre
            inside = (columns - x) ** 2 + (rows - y) ** 2 <= radius**2
        out[inside] = value
    return out


def finding_parts(label_map: np.ndarray, labels: int) -> list[tuple[int, float, float, float]]:
    """What :func:`render_findings` drew with ``each`` (after it moved with its image): per finding still on the map,
    its label's index, the centre (x, y) and the radius of a disk of its area, in pixels.

    >>> moved = render_findings([Finding("a", (3.0, 2.0), 1.0), Finding("b", (7.0, 6.0), 2.0)], (9, 10), ["a", "b"],
    ...                         each=True)
    >>> [(k, x, y, round(r, 2)) for k, x, y, r in finding_parts(moved, 2)]
    [(0, 3.0, 2.0, 1.26), (1, 7.0, 6.0, 2.03)]
    """
    parts = []
    for value in np.unique(label_map):
        if value <= 0:
            continue
        rows, columns = np.nonzero(label_map == value)
        parts.append((int(value - 1) % labels, float(columns.mean()), float(rows.mean()),
                      float(np.sqrt(rows.size / np.pi))))
    return parts
