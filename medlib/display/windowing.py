"""Display windows (window/level): presets and the mapping to 8-bit display values."""

from __future__ import annotations

import numpy as np

from medlib.display.drawing import shrink
from medlib.input.image import MedImage, Window

#: Standard CT windows in Hounsfield units (centre, width).
WINDOW_PRESETS: dict[str, Window] = {
    "lung": Window(-600.0, 1500.0),
    "mediastinum": Window(50.0, 350.0),
    "bone": Window(400.0, 1800.0),
    "brain": Window(40.0, 80.0),
}


def apply_window(pixels: np.ndarray, window: Window) -> np.ndarray:
    """Map values to 0..1: the window's low end to 0, its high end to 1, clipped.

    A zero or negative width is refused (it would divide by zero).

    >>> apply_window(np.array([-1000.0, 40.0, 1000.0]), WINDOW_PRESETS["brain"]).tolist()
    [0.0, 0.5, 1.0]
    """
    if not np.isfinite(window.width) or window.width <= 0:
        raise ValueError(f"window width must be a positive number, got {window.width}")
    scaled = (np.asarray(pixels, dtype=np.float32) - np.float32(window.low)) / np.float32(window.width)
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0)


def to_display(image: MedImage, frame: int = 0, window: Window | None = None, max_side: int | None = None
               ) -> np.ndarray:
    """One frame as uint8 for the screen, through ``window`` (default: the file's own), shrunk to ``max_side``
    pixels on its long side where larger (a screen shows no more; a full-size film is 20 megapixels)."""
    scaled = apply_window(shrink(image.frame(frame), max_side)[0], window or image.default_window())
    return np.round(scaled * 255.0).astype(np.uint8)
