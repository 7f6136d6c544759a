"""The picture a radiologist reads: the film in a plotly figure (zoom with the wheel or a box, pan by dragging, double
click to fit) in the image's own pixels, each overlay a trace of its own that the legend shows, names and toggles
(the heat map, each outlined structure, the numbered candidates), the candidates' labels placed where they neither
collide nor leave the picture.

Plotly is the app's chart library already: its figure gives zoom, pan and legend toggles in the browser with no
round trip to the server, and Streamlit reports clicks on it (:mod:`ui.planes`), so no canvas code of our own.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
import plotly.graph_objects as go

from medlib.answers.diagnosis import Diagnosis
from medlib.display.drawing import FINDING_COLOR, as_rgb, structure_color
from medlib.display.marks import outline_paths, place_labels

HEAT_SIDE = 160
"""The heat map's long side as sent to the browser (it is smooth: more cells only weigh more)."""
LESION_COLOR = (255, 64, 64)
CONFIG = {"scrollZoom": True, "displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
"""The figure's tools: the wheel zooms; box zoom, pan, fit and a picture download stay in its toolbar."""


def picture_source(picture: np.ndarray) -> str:
    """A uint8 picture (gray or RGB) as a JPEG data URI for a plotly image trace."""
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(as_rgb(picture), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode()


def _rgba(color: tuple[int, int, int], alpha: float = 1.0) -> str:
    return f"rgba({color[0]},{color[1]},{color[2]},{alpha:.2f})"


def _joined(paths: list[np.ndarray]) -> tuple[list, list]:
    """The paths as one trace's x and y, each closed and apart from the next (a gap between them)."""
    xs, ys = [], []
    for path in paths:
        xs += [*path[:, 0].tolist(), None]
        ys += [*path[:, 1].tolist(), None]
    return xs, ys


def image_figure(picture: np.ndarray, size: tuple[int, int], height: int = 640) -> go.Figure:
    """The picture (uint8, any size) shown over an image of ``size`` (height, width) pixels: the axes are the
    image's pixels, square, the first row at the top."""
    rows, columns = size
    figure = go.Figure(go.Image(source=picture_source(picture), x0=0, y0=0, dx=columns / picture.shape[1],
                                dy=rows / picture.shape[0], hoverinfo="skip", name="image"))
    figure.update_xaxes(visible=False, range=[-0.5, columns - 0.5], constrain="domain")
    figure.update_yaxes(visible=False, range=[rows - 0.5, -0.5], scaleanchor="x", constrain="domain")
    figure.update_layout(height=height, margin=dict(l=0, r=0, t=30, b=0), dragmode="pan", plot_bgcolor="black",
                         legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0, title_text="show: "),
                         uirevision="film")  # zoom and toggles kept while the answer is redrawn
    return figure


def add_outlines(figure: go.Figure, mask: np.ndarray, size: tuple[int, int], name: str, color: tuple[int, int, int],
                 fill: float) -> None:
    """One structure (``mask``, any size, over an image of ``size``) outlined and filled at ``fill``, as a legend
    entry."""
    xs, ys = _joined(outline_paths(mask, size))
    if xs:
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=dict(color=_rgba(color), width=2),
                                    fill="toself", fillcolor=_rgba(color, fill), hoverinfo="name", legendgroup=name))


def _add_heat(figure: go.Figure, heat: np.ndarray, size: tuple[int, int], name: str, opacity: float) -> None:
    scale = HEAT_SIDE / max(heat.shape)
    small = cv2.resize(np.asarray(heat, np.float32), None, fx=min(scale, 1.0), fy=min(scale, 1.0),
                       interpolation=cv2.INTER_AREA) if scale < 1 else np.asarray(heat, np.float32)
    shown = np.where(small >= 0.1, small, np.nan)  # the cold part left clear: the film shows through
    figure.add_trace(go.Heatmap(z=shown, x0=(size[1] / small.shape[1] - 1) / 2, dx=size[1] / small.shape[1],
                                y0=(size[0] / small.shape[0] - 1) / 2, dy=size[0] / small.shape[0], zmin=0, zmax=1,
                                colorscale="Jet", opacity=opacity, showscale=False, showlegend=True, name=name,
                                hoverinfo="skip"))


def _add_candidates(figure: go.Figure, result: Diagnosis, size: tuple[int, int], name: str) -> None:
    """The called candidates as circles of their radius, numbered by labels that never collide or leave the
    picture; hovering a circle gives its score."""
    called = result.called()
    if not called:
        return
    radii = [max(c.radius or 0.0, max(size) / 120) for _, c in called]
    angles = np.linspace(0, 2 * np.pi, 41)
    xs, ys, hover = [], [], []
    for (number, candidate), radius in zip(called, radii, strict=True):
        x, y = candidate.centre
        xs += [*(x + radius * np.cos(angles)).tolist(), None]
        ys += [*(y + radius * np.sin(angles)).tolist(), None]
        hover += [f"{number}: score {candidate.score:.2f}"] * 41 + [None]
    color = _rgba(FINDING_COLOR)
    figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, legendgroup="candidates", text=hover,
                                hoverinfo="text", line=dict(color=color, width=2)))
    _add_numbers(figure, [c.centre for _, c in called], radii, [number for number, _ in called], size, color,
                 "candidates")


def _add_numbers(figure: go.Figure, centres: list[tuple[float, float]], radii: list[float], numbers: list,
                 size: tuple[int, int], color: str, group: str) -> None:
    """Each round mark's number beside it (:func:`medlib.display.marks.place_labels`: never colliding, never off
    the picture), shown and hidden with its marks' legend entry ``group``."""
    if not centres:
        return
    box = (max(size) / 28, max(size) / 32)
    corners = place_labels(centres, radii, size, box)
    figure.add_trace(go.Scatter(
        x=[left + box[0] / 2 for left, _ in corners], y=[top + box[1] / 2 for _, top in corners], mode="text",
        text=[str(n) for n in numbers], textfont=dict(color=color, size=14), legendgroup=group, showlegend=False,
        hoverinfo="skip"))


def _number_lesions(figure: go.Figure, result: Diagnosis, size: tuple[int, int], group: str) -> None:
    """Each outlined lesion's number (as in its table) beside it, with its outline's legend entry."""
    boxes = [np.asarray(lesion["box"], float) for lesion in result.lesions]
    _add_numbers(figure, [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes],
                 [float(np.hypot(b[2] - b[0], b[3] - b[1])) / 2 for b in boxes],
                 [lesion["finding"] for lesion in result.lesions], size, _rgba(LESION_COLOR), group)


def diagnosis_figure(display: np.ndarray, result: Diagnosis, heat_name: str, target: str, finding: str,
                     heat_opacity: float, fill: float) -> go.Figure:
    """The film as shown (``display``, uint8) with every part of the answer as a layer of its own: the heat map,
    each structure outlined in its colour (or a one-structure segmenter's outline), the numbered candidates."""
    size = tuple(result.image_size or display.shape[:2])
    figure = image_figure(display, size)
    if result.heat is not None and not result.heat_on_input:
        _add_heat(figure, result.heat, size, heat_name, heat_opacity)
    if result.label_map is not None:
        for value, structure in enumerate(result.structures, start=1):
            add_outlines(figure, result.label_map == value, size, structure, structure_color(value), fill)
    elif result.lesion_probability is not None and not result.lesions_on_input:
        add_outlines(figure, result.lesion_probability >= 0.5, size, f"{target} outline", LESION_COLOR, fill)
        _number_lesions(figure, result, size, f"{target} outline")
    threshold = result.candidate_threshold
    _add_candidates(figure, result, size, f"{finding} candidates ≥ {threshold:.2f}" if threshold is not None else
                    f"{finding} candidates")
    return figure
