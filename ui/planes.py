"""A volume in three planes (axial, coronal, sagittal), a slice slider each, its label volume outlined."""

from __future__ import annotations

import cv2
import numpy as np
import streamlit as st

from medlib.datasets.volumes import PLANES, Volume
from medlib.display.drawing import draw_label_map, enlarge, scale_to_uint8


def three_planes(volume: Volume, key: str) -> None:
    """The three planes of ``volume`` side by side, each at its own slice (``key`` names the sliders), millimetres
    kept square, the structures of its label volume outlined in their colours."""
    low, high = np.percentile(volume.image, [0.5, 99.5])
    for column, plane, axis in zip(st.columns(3), PLANES, (2, 1, 0), strict=True):
        depth = volume.image.shape[axis]
        index = column.slider(f"{plane.capitalize()} slice", 1, depth, depth // 2 + 1, key=f"{key}_{plane}") - 1
        spacing = [s for k, s in enumerate(volume.spacing) if k != axis]
        picture = scale_to_uint8(volume.plane(plane, index), float(low), float(high))
        ratio = spacing[1] / spacing[0]  # rows follow the second remaining axis: keep millimetres square
        picture = cv2.resize(picture, (picture.shape[1], max(1, round(picture.shape[0] * ratio))),
                             interpolation=cv2.INTER_NEAREST)
        picture = enlarge(picture, 256)
        if volume.labels is not None:
            labels = cv2.resize(volume.plane(plane, index, labels=True), (picture.shape[1], picture.shape[0]),
                                interpolation=cv2.INTER_NEAREST)
            picture = draw_label_map(picture, labels)
        column.image(picture, caption=f"{plane} {index + 1}/{depth}", width="stretch")
