"""A volume in three linked planes (axial, coronal, sagittal): a slice slider each, a crosshair where the other two
planes cut it, a click in one plane moving the other two there, the structures of its label volume outlined."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from medlib.datasets.volumes import PLANES, Volume
from medlib.display.drawing import scale_to_uint8, structure_color
from ui.viewer import add_outlines, image_figure

AXES = {"axial": 2, "coronal": 1, "sagittal": 0}
"""The array axis each plane holds fixed."""
SEEN = {"axial": (0, 1), "coronal": (0, 2), "sagittal": (1, 2)}
"""The array axes a plane's columns and rows follow (rows upwards: :meth:`Volume.plane`)."""
CROSSHAIR = "rgba(255,214,0,0.8)"
CLICK_POINTS = 64
"""Clickable points a side at most: a click anywhere in the plane lands on one (Streamlit reports clicks on points)."""


def _slider_key(key: str, plane: str) -> str:
    return f"{key}_{plane}"


def _position(key: str, shape: tuple[int, ...]) -> list[int]:
    """The voxel (array indices) where the three planes cut, from their sliders (the middle at first)."""
    position = [0, 0, 0]
    for plane, axis in AXES.items():  # the sliders' own state, set before they are drawn (a click may move them)
        slider = _slider_key(key, plane)
        if not 1 <= int(st.session_state.get(slider, 0)) <= shape[axis]:  # new, or left by a larger volume
            st.session_state[slider] = shape[axis] // 2 + 1
        position[axis] = int(st.session_state[slider]) - 1
    return position


def _move(key: str, plane: str, shape: tuple[int, ...]) -> None:
    """A click in ``plane``: the other two planes move to the voxel clicked (the sliders are this session's
    widgets)."""
    points = st.session_state[f"{key}_{plane}_view"].selection.points
    if not points:
        return
    columns, rows = SEEN[plane]
    column, row = round(points[0]["x"]), round(points[0]["y"])
    for axis, value in ((columns, column), (rows, shape[rows] - 1 - row)):
        other = next(p for p, a in AXES.items() if a == axis)
        st.session_state[_slider_key(key, other)] = int(np.clip(value, 0, shape[axis] - 1)) + 1


def _plane_figure(volume: Volume, plane: str, position: list[int], low: float, high: float) -> go.Figure:
    """One plane at the position's slice: the picture in voxels with millimetres kept square, the structures
    outlined, the crosshair at the other planes' slices, and clickable points under it."""
    columns, rows = SEEN[plane]
    index = position[AXES[plane]]
    picture = scale_to_uint8(volume.plane(plane, index), low, high)
    size = picture.shape[:2]
    figure = image_figure(picture, size, height=300)
    spacing = volume.spacing
    figure.update_yaxes(scaleratio=spacing[rows] / spacing[columns])
    if volume.labels is not None:
        labels = volume.plane(plane, index, labels=True)
        for value in (int(v) for v in np.unique(labels) if v > 0):
            add_outlines(figure, labels == value, size, f"structure {value}", structure_color(value), 0.0)
    x, y = position[columns], size[0] - 1 - position[rows]
    figure.add_trace(go.Scatter(x=[x, x, None, -0.5, size[1] - 0.5], y=[-0.5, size[0] - 0.5, None, y, y],
                                mode="lines", line=dict(color=CROSSHAIR, width=1), hoverinfo="skip",
                                showlegend=False))
    step = max(1, round(max(size) / CLICK_POINTS))
    grid_y, grid_x = np.mgrid[0:size[0]:step, 0:size[1]:step]
    figure.add_trace(go.Scatter(x=grid_x.ravel(), y=grid_y.ravel(), mode="markers", marker=dict(size=step * 4,
                                opacity=0), hoverinfo="none", showlegend=False))
    figure.update_layout(showlegend=False, margin=dict(l=0, r=0, t=0, b=0), dragmode=False,
                         uirevision=f"{plane}")
    return figure


def three_planes(volume: Volume, key: str) -> None:
    """The three planes of ``volume`` side by side (``key`` names their sliders and views), linked: each shows a
    crosshair where the others cut it, and a click moves the other two planes there."""
    low, high = (float(v) for v in np.percentile(volume.image, [0.5, 99.5]))
    shape = volume.image.shape
    position = _position(key, shape)
    for column, plane in zip(st.columns(3), PLANES, strict=True):
        axis = AXES[plane]
        column.slider(f"{plane.capitalize()} slice", 1, shape[axis], key=_slider_key(key, plane))
        column.plotly_chart(_plane_figure(volume, plane, position, low, high), key=f"{key}_{plane}_view",
                            on_select=lambda plane=plane: _move(key, plane, shape), selection_mode="points",
                            config={"displaylogo": False, "displayModeBar": False})
        column.caption(f"{plane} {position[axis] + 1}/{shape[axis]} · a click moves the other planes there")
