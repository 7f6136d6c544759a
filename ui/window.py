"""Window/level controls shared by the pages that show a medical image."""

from __future__ import annotations

import streamlit as st

from medlib.display.windowing import WINDOW_PRESETS
from medlib.input.image import MedImage, Window


def window_controls(image: MedImage, key: str = "window") -> Window:
    """A preset (the file's window, the full range, CT presets) or a custom level and width."""
    low, high = image.value_range()
    files = {f"File: {name} ({w.center:.4g}/{w.width:.4g})": w for name, w in image.windows} or \
        ({"File window": image.window} if image.window else {})
    choices = [*files, "Full range", *[p.title() for p in WINDOW_PRESETS], "Custom"]
    preset = st.selectbox("Window preset", choices, key=f"{key}_preset",
                          help="the file's own windows first (from its DICOM tags); CT presets are in Hounsfield units")
    if preset in files:
        return files[preset]
    if preset == "Full range":
        return Window((low + high) / 2.0, max(high - low, 1e-6))
    if preset.lower() in WINDOW_PRESETS:
        return WINDOW_PRESETS[preset.lower()]
    base = image.default_window()
    span = max(high - low, 1.0)
    center = st.slider("Level (centre)", low - span / 2, high + span / 2, float(base.center), key=f"{key}_center")
    width = st.slider("Width", span / 1000.0, 2.0 * span, float(base.width), key=f"{key}_width")
    return Window(center, width)
