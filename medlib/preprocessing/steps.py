"""The preprocessing steps, declared once each (:data:`STEPS`): what they do to an image (and, for geometric steps,
to its mask, by the record of :mod:`medlib.geometry`), their parameters, and the widgets that set them.

Every step takes an H×W×C float32 image and returns the same kinds. Intensity steps map to 0..1; a constant image
never yields NaN (no step divides by a range that can be zero).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from skimage import exposure

from medlib.display.windowing import WINDOW_PRESETS, apply_window
from medlib.errors import SpecError
from medlib.geometry import INTERPOLATIONS, Crop, Record, fit_record
from medlib.input.image import Window
from medlib.spec import Param, StepKind

Mask = np.ndarray | None

_SAMPLE = 512  # percentiles are taken on at most about 512×512 values (a strided view)


def as_hwc(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise SpecError(f"preprocessing takes an H×W or H×W×(1|3) image, got shape {image.shape} ({image.dtype})")
    return image.astype(np.float32, copy=False)


def _percentiles(image: np.ndarray, low: float, high: float) -> tuple[float, float]:
    stride = max(1, max(image.shape[:2]) // _SAMPLE)
    sample = image[::stride, ::stride].ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 0.0
    lo, hi = np.percentile(sample, [low, high])
    return float(lo), float(hi)


def _unit_range(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map low..high to 0..1 and clip; a zero range gives zeros."""
    if not high > low:
        return np.zeros_like(image, dtype=np.float32)
    return np.clip((image - np.float32(low)) / np.float32(high - low), 0.0, 1.0).astype(np.float32)


BIT_LEVELS = (1.0, 255.0, 1023.0, 4095.0, 16383.0, 65535.0)
"""Full scales of stored images (0..1, then 8, 10, 12, 14 and 16 bits): the ``bits`` window maps the smallest one
that holds an image's largest value to 0..1, so an 8-bit film and its 16-bit export look alike."""


def _window(image: np.ndarray, mask: Mask, p: dict, file_window: Window | None):
    preset = p["preset"]
    if preset == "bits":
        high = float(np.nanmax(image)) if image.size else 0.0
        full = next((level for level in BIT_LEVELS if high <= level), None)
        if full is not None and float(np.nanmin(image)) >= 0.0:
            return _unit_range(image, 0.0, full), mask
        preset = "auto"  # negative or beyond 16-bit values have no bit depth: the robust window
    if preset == "custom":
        window = Window(p["center"], p["width"])
    elif preset in WINDOW_PRESETS:
        window = WINDOW_PRESETS[preset]
    elif preset == "file" and file_window is not None:
        window = file_window
    else:  # auto, or the file has no window: a robust range of the image itself
        low, high = _percentiles(image, p["low_percentile"], p["high_percentile"])
        return _unit_range(image, low, high), mask
    return apply_window(image, window), mask


def _resize_record(shape: tuple[int, ...], p: dict) -> Record:
    height, width = p["height"], p["width"] or p["height"]
    return fit_record(tuple(shape[:2]), (height, width), keep_aspect=p["mode"] != "stretch",
                      interpolation=p["interpolation"])


def _crop_record(shape: tuple[int, ...], p: dict) -> Record:
    if p["mode"] == "center":
        margin = (1.0 - p["fraction"]) / 2.0
        box = (margin, margin, p["fraction"], p["fraction"])
    else:
        box = (p["top"], p["left"], p["height"], p["width"])
    h, w = shape[:2]
    y0, x0 = min(int(round(box[0] * h)), h - 1), min(int(round(box[1] * w)), w - 1)
    y1 = max(y0 + 1, min(h, int(round((box[0] + box[2]) * h))))
    x1 = max(x0 + 1, min(w, int(round((box[1] + box[3]) * w))))
    return Record((Crop(((y0, y1), (x0, x1))),))


RECORDS = {"resize": _resize_record, "crop": _crop_record}
"""The geometric steps, each declared once by the steps it takes (:mod:`medlib.geometry`): the step moves
the
image and its mask by them, and a map or a point comes back by their inverse."""


def _geometric(name: str):
    def step(image: np.ndarray, mask: Mask, p: dict, _: Window | None):
        record = RECORDS[name](image.shape, p)
        moved = record.move(image).astype(np.float32, copy=False)  # padding takes the image's darkest value
        return moved, None if mask is None else record.move(mask, nearest=True, fill=0)

    return step


def _normalize(image: np.ndarray, mask: Mask, p: dict, _: Window | None):
    if p["method"] == "minmax":
        finite = image[np.isfinite(image)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        return _unit_range(image, low, high), mask
    if p["method"] == "percentile":
        return _unit_range(image, *_percentiles(image, p["low_percentile"], p["high_percentile"])), mask
    mean, std = float(np.nanmean(image)), float(np.nanstd(image))
    centred = np.nan_to_num(image - np.float32(mean))
    return (centred / np.float32(std) if std > 1e-12 else centred).astype(np.float32), mask


def _per_channel(image: np.ndarray, fn) -> np.ndarray:
    return np.stack([fn(image[..., c]) for c in range(image.shape[-1])], axis=-1).astype(np.float32)


def _to_unit(image: np.ndarray) -> np.ndarray:
    """0..1 as it is, or min-max scaled when the values leave that range."""
    low, high = float(image.min()), float(image.max())
    return image if 0.0 <= low and high <= 1.0 else _unit_range(image, low, high)


def _equalize(image: np.ndarray, mask: Mask, p: dict, _: Window | None):
    unit = _to_unit(image)
    if p["method"] == "histogram":
        if float(unit.max()) == float(unit.min()):
            return unit.astype(np.float32), mask
        return _per_channel(unit, lambda ch: exposure.equalize_hist(ch, nbins=p["bins"])), mask
    clahe = cv2.createCLAHE(clipLimit=p["clip_limit"], tileGridSize=(p["tiles"], p["tiles"]))
    as16 = np.round(unit * 65535.0).astype(np.uint16)
    return _per_channel(as16, lambda ch: clahe.apply(ch) / np.float32(65535.0)), mask


def _denoise(image: np.ndarray, mask: Mask, p: dict, _: Window | None):
    method, strength = p["method"], p["strength"]
    if method == "gaussian":
        out = cv2.GaussianBlur(image, (0, 0), sigmaX=strength)
    elif method == "median":
        size = 3 if strength <= 1.5 else 5
        out = cv2.medianBlur(np.ascontiguousarray(image), size)
    elif method == "bilateral":
        spread = float(image.max() - image.min()) or 1.0
        out = cv2.bilateralFilter(image, d=5, sigmaColor=0.1 * strength * spread, sigmaSpace=2.0 * strength)
    else:  # non-local means works on 8 bits: scale there and back
        low, high = float(image.min()), float(image.max())
        if high <= low:
            return image.copy(), mask
        as8 = np.round(_unit_range(image, low, high) * 255).astype(np.uint8)
        h = 5.0 * strength
        denoised = (
            cv2.fastNlMeansDenoising(as8[..., 0], None, h, 7, 21)[..., None]
            if image.shape[-1] == 1
            else cv2.fastNlMeansDenoisingColored(as8, None, h, h, 7, 21)
        )
        out = denoised.astype(np.float32) / 255.0 * (high - low) + low
    return out.reshape(image.shape).astype(np.float32), mask


def _color(image: np.ndarray, mask: Mask, p: dict, _: Window | None):
    if p["mode"] == "gray":
        return (image if image.shape[-1] == 1 else image.mean(axis=-1, keepdims=True)).astype(np.float32), mask
    if p["mode"] == "green":  # fundus photographs: vessels and lesions stand out most in the green channel
        return (image if image.shape[-1] == 1 else image[..., 1:2]).astype(np.float32), mask
    return (image if image.shape[-1] == 3 else np.repeat(image, 3, axis=-1)).astype(np.float32), mask


def _percentiles_params(when: tuple[str, ...], on: str = "preset") -> tuple[Param, Param]:
    return (
        Param("low_percentile", "float", 0.5, 0.0, 49.0, help="values below this percentile become black",
              step=0.5, shown_if=(on, when)),
        Param("high_percentile", "float", 99.5, 51.0, 100.0, help="values above this percentile become white",
              step=0.5, shown_if=(on, when)),
    )


STEPS: dict[str, StepKind] = {
    s.name: s
    for s in (
        StepKind(
            "window", "Window (level/width)",
            (
                Param("preset", "choice", "auto", choices=("auto", "bits", "file", *WINDOW_PRESETS, "custom"),
                      help="auto: robust percentiles; bits: the image's full scale (8, 12 or 16 bits, or 0..1); "
                           "file: the DICOM's own window; CT presets in HU"),
                Param("center", "float", 40.0, -5000.0, 70000.0, help="custom window centre",
                      shown_if=("preset", ("custom",))),
                Param("width", "float", 400.0, 1e-3, 140000.0, help="custom window width",
                      shown_if=("preset", ("custom",))),
                *_percentiles_params(("auto", "file")),
            ),
            _window, "Map a value range to 0..1 (CT in Hounsfield units).", "intensity",
        ),
        StepKind(
            "resize", "Resize",
            (
                Param("height", "int", 256, 8, 4096, help="output height in pixels"),
                Param("width", "int", 0, 0, 4096, help="output width; 0 means the same as the height"),
                Param("mode", "choice", "pad", choices=("pad", "stretch"),
                      help="pad: keep the aspect ratio and pad; stretch: fill the box"),
                Param("interpolation", "choice", "area", choices=tuple(INTERPOLATIONS)),
            ),
            _geometric("resize"), "Bring every image to the model's input size.", "geometry",
        ),
        StepKind(
            "crop", "Crop (centre or region)",
            (
                Param("mode", "choice", "center", choices=("center", "roi")),
                Param("fraction", "float", 0.9, 0.05, 1.0, help="the part of each side kept", step=0.01,
                      shown_if=("mode", ("center",))),
                Param("top", "float", 0.0, 0.0, 0.95, help="top edge, as a fraction of the height", step=0.01,
                      shown_if=("mode", ("roi",))),
                Param("left", "float", 0.0, 0.0, 0.95, help="left edge, as a fraction of the width", step=0.01,
                      shown_if=("mode", ("roi",))),
                Param("height", "float", 1.0, 0.05, 1.0, help="height, as a fraction", step=0.01,
                      shown_if=("mode", ("roi",))),
                Param("width", "float", 1.0, 0.05, 1.0, help="width, as a fraction", step=0.01,
                      shown_if=("mode", ("roi",))),
            ),
            _geometric("crop"), "Keep the centre or a region of interest.", "geometry",
        ),
        StepKind(
            "normalize", "Normalise intensity",
            (
                Param("method", "choice", "minmax", choices=("minmax", "zscore", "percentile")),
                *_percentiles_params(("percentile",), "method"),
            ),
            _normalize, "Min-max to 0..1, z-score, or a percentile clip to 0..1.", "intensity",
        ),
        StepKind(
            "equalize", "Histogram equalisation / CLAHE",
            (
                Param("method", "choice", "clahe", choices=("clahe", "histogram")),
                Param("clip_limit", "float", 2.0, 0.1, 40.0, help="contrast limit", step=0.1,
                      shown_if=("method", ("clahe",))),
                Param("tiles", "int", 8, 1, 64, help="tiles per side", shown_if=("method", ("clahe",))),
                Param("bins", "int", 256, 16, 4096, help="histogram bins", shown_if=("method", ("histogram",))),
            ),
            _equalize, "Spread the contrast; CLAHE does it locally.", "intensity",
        ),
        StepKind(
            "denoise", "Denoise",
            (
                Param("method", "choice", "gaussian", choices=("gaussian", "median", "bilateral", "nlmeans")),
                Param("strength", "float", 1.0, 0.1, 10.0, help="sigma in pixels, or the filter's strength", step=0.1),
            ),
            _denoise, "Gaussian, median, bilateral or non-local means filtering.", "intensity",
        ),
        StepKind(
            "color", "Gray / RGB",
            (Param("mode", "choice", "gray", choices=("gray", "green", "rgb")),),
            _color, "Convert to one gray channel (the mean, or the green channel of a colour image: best for "
            "retinal vessels) or to three RGB channels.", "channels",
        ),
    )
}


def window_for(images: np.ndarray) -> dict[str, Any]:
    """The window step's parameters for images stored as ``images`` are (N×H×W×C, a sample of a data set).

    Images stored for display (8-bit, or 0..1) keep their full scale (the ``bits`` window), so a brightness means
    the same in every image and a 16-bit export of such an image still looks alike; other data (CT in HU, 16-bit
    films) gets the robust per-image window (the defaults).

    >>> window_for(np.array([[0, 255]], np.uint8)), window_for(np.array([[-1000.0, 400.0]]))
    ({'preset': 'bits'}, {})
    """
    low, high = float(images.min()), float(images.max())
    if low >= 0.0 and (high <= 1.0 or high <= 255.0 and np.array_equal(images, np.round(images))):
        return {"preset": "bits"}
    return {}
