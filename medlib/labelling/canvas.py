"""One image's labels as the drawing a Fabric.js canvas edits (the JSON that ``streamlit-drawable-canvas`` takes
as its ``initial_drawing`` and gives back), and back: each outline a polygon in its structure's colour, each
finding a circle. The canvas shows the image at ``scale`` canvas pixels per image pixel.

Fabric places an object by a point (``left``, ``top``) at its origin (``originX``/``originY``), and draws a
polygon's points about the middle of their bounding box, turned by ``angle`` and stretched by ``scaleX``/``scaleY``
(:func:`_centre` and :func:`from_drawing` follow Fabric's own ``translateToCenterPoint`` and ``calcOwnMatrix``).

>>> labels = ImageLabels((100, 100), {"lung": [np.array([[10.0, 10.0], [60.0, 12.0], [30.0, 70.0]])]},
...                      [Finding("nodule", (80.0, 20.0), 5.0)])
>>> back = from_drawing(to_drawing(labels, ["lung"], 2.5), ["lung"], 2.5, (100, 100), "nodule")
>>> back.outlines["lung"][0].round(3).tolist(), back.findings[0].centre, back.findings[0].radius
([[10.0, 10.0], [60.0, 12.0], [30.0, 70.0]], (80.0, 20.0), 5.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medlib.display.drawing import FINDING_COLOR, structure_color
from medlib.labelling.labels import ImageLabels
from medlib.targets import Finding

STROKE = 2
"""The width of the drawn edges, in canvas pixels."""
_ORIGIN = {"left": -0.5, "top": -0.5, "center": 0.0, "right": 0.5, "bottom": 0.5}


def hex_colour(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


def fill_colour(colour: str, opacity: float = 0.15) -> str:
    """The fill of a shape whose edge is ``colour`` (``#rrggbb``): the same colour, see-through."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {opacity})"


def structure_colours(structures: Sequence[str]) -> dict[str, str]:
    """Each structure's edge colour on the canvas: the colour it has in every picture and legend."""
    return {name: hex_colour(structure_color(value)) for value, name in enumerate(structures, 1)}


FINDING_COLOUR = hex_colour(FINDING_COLOR)
"""The edge colour of the findings' circles."""


def to_drawing(labels: ImageLabels, structures: Sequence[str], scale: float) -> dict[str, Any]:
    """The canvas drawing of ``labels``: a polygon per outline (in the order of ``structures``), then a circle per
    finding."""
    objects: list[dict[str, Any]] = []
    for value, name in enumerate(structures, 1):
        colour = hex_colour(structure_color(value))
        for polygon in labels.outlines.get(name, []):
            points = (np.asarray(polygon, np.float64) + 0.5) * scale
            objects.append({"type": "Polygon", "points": [{"x": float(x), "y": float(y)} for x, y in points],
                            "stroke": colour, "strokeWidth": STROKE, "fill": fill_colour(colour)})
    for finding in labels.findings:
        x, y = ((v + 0.5) * scale for v in finding.centre)
        objects.append({"type": "Circle", "left": x, "top": y, "originX": "center", "originY": "center",
                        "radius": max(finding.radius or 3.0, 1.0) * scale, "stroke": FINDING_COLOUR,
                        "strokeWidth": STROKE, "fill": "rgba(0, 0, 0, 0)"})
    return {"version": "7.0.0", "objects": objects}


def _centre(obj: Mapping[str, Any]) -> np.ndarray:
    """The centre of a Fabric object on the canvas: its origin point moved by half its size (edge included), turned
    by its angle about that point."""
    stroke = 0.0 if obj.get("strokeUniform") else float(obj.get("strokeWidth") or 0.0)
    size = np.array([(float(obj.get("width", 0.0)) + stroke) * abs(float(obj.get("scaleX", 1.0))),
                     (float(obj.get("height", 0.0)) + stroke) * abs(float(obj.get("scaleY", 1.0)))])
    origin = np.array([_ORIGIN.get(str(obj.get("originX", "left")), -0.5),
                       _ORIGIN.get(str(obj.get("originY", "top")), -0.5)])
    return np.array([float(obj.get("left", 0.0)), float(obj.get("top", 0.0))]) + _turn(obj) @ (-origin * size)


def _turn(obj: Mapping[str, Any]) -> np.ndarray:
    angle = np.radians(float(obj.get("angle", 0.0)))
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _rgb(colour: str) -> np.ndarray | None:
    text = colour.strip().lower()
    if text.startswith("#") and len(text) == 7:
        return np.array([int(text[i:i + 2], 16) for i in (1, 3, 5)], float)
    if text.startswith("rgb"):
        values = text[text.find("(") + 1:text.rfind(")")].split(",")
        return np.array([float(v) for v in values[:3]])
    return None


def _structure_of(colour: str, colours: Mapping[str, str]) -> str:
    """The structure whose colour is nearest ``colour`` (an outline drawn in that structure's colour)."""
    rgb = _rgb(colour)
    names = list(colours)
    if rgb is None:
        return names[0]
    return min(names, key=lambda name: float(np.abs(_rgb(colours[name]) - rgb).sum()))


def from_drawing(drawing: Mapping[str, Any] | None, structures: Sequence[str], scale: float, size: tuple[int, int],
                 finding_label: str, label: str | None = None) -> ImageLabels:
    """The labels a canvas drawing holds, in the pixels of an image of ``size`` (height, width): each polygon an
    outline of the structure of its edge colour, each circle a finding ``finding_label``; other shapes are left
    out. ``label``: the image's class."""
    out = ImageLabels(size, label=label)
    colours = structure_colours(structures)
    for obj in (drawing or {}).get("objects", []):
        kind = str(obj.get("type", "")).lower()
        if kind == "circle":
            centre = _centre(obj) / scale - 0.5
            radius = float(obj.get("radius", 0.0)) * (abs(obj.get("scaleX", 1.0)) + abs(obj.get("scaleY", 1.0))) / 2
            out.findings.append(Finding(finding_label, (round(float(centre[0]), 3), round(float(centre[1]), 3)),
                                        round(radius / scale, 3)))
        elif kind == "polygon" and structures and len(obj.get("points", [])) > 2:
            points = np.array([[float(p["x"]), float(p["y"])] for p in obj["points"]])
            middle = (points.min(axis=0) + points.max(axis=0)) / 2
            stretch = np.array([float(obj.get("scaleX", 1.0)) * (-1 if obj.get("flipX") else 1),
                                float(obj.get("scaleY", 1.0)) * (-1 if obj.get("flipY") else 1)])
            # a polygon not yet placed by Fabric (as this module writes it) lies where its points say
            placed = ((points - middle) * stretch) @ _turn(obj).T + _centre(obj) if "left" in obj else points
            name = _structure_of(str(obj.get("stroke") or ""), colours)
            out.outlines.setdefault(name, []).append(np.round(placed / scale - 0.5, 3))
    return out
