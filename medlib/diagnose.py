"""One image through a classifier and a segmenter: class probabilities, heat map, lesion mask and findings.

Each model's card preprocessing is applied to the image; the heat map and the
lesion map are brought back onto the image as it was read (undoing the resize
and padding of the preprocessing) so they can be drawn on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from medlib.explain import METHODS, heatmaps
from medlib.inference import LoadedModel
from medlib.metrics import as_probabilities
from medlib.models import ModelError
from medlib.preprocess import Pipeline
from medlib.segmentation import find_lesions, predict_tiled


@dataclass
class Diagnosis:
    """What the models say about one image; maps are at the image's own size."""

    class_names: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    heat: np.ndarray | None = None
    lesion_probability: np.ndarray | None = None
    lesions: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    heat_on_input: bool = False
    lesions_on_input: bool = False

    @property
    def predicted(self) -> str | None:
        return self.class_names[int(np.argmax(self.probabilities))] if self.probabilities else None


def back_to_image(values: np.ndarray, pipeline: Pipeline, shape: tuple[int, int]) -> np.ndarray | None:
    """A map at the model's input geometry brought back to an image of ``shape`` (height, width).

    Undoes a resize (stretched, or kept in aspect and padded). ``None`` for a
    cropping pipeline: what lay outside the crop was never seen.
    """
    height, width = shape
    for name, params in pipeline.steps:
        if name == "crop":
            return None
        if name == "resize" and params["mode"] == "pad":
            h_t, w_t = params["height"], params["width"] or params["height"]
            scale = min(h_t / height, w_t / width)
            box = (max(1, round(height * scale)), max(1, round(width * scale)))
            top, left = (h_t - box[0]) // 2, (w_t - box[1]) // 2
            values = values[top : top + box[0], left : left + box[1]]
            height, width = shape
    return cv2.resize(np.ascontiguousarray(values, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def _on_image(values: np.ndarray, pipeline: Pipeline, shape: tuple[int, int], notes: list[str], what: str):
    back = back_to_image(values, pipeline, shape)
    if back is None:
        notes.append(f"the {what} is shown on the cropped model input: its preprocessing crops the image")
        return np.clip(values, 0.0, 1.0), True
    return np.clip(back, 0.0, 1.0), False


def _model_input(loaded: LoadedModel, image: np.ndarray, tiled: bool) -> np.ndarray:
    """The card's preprocessing of ``image``, checked against what the model takes."""
    model_input, _ = loaded.pipeline.apply(image)
    expected = tuple(int(v) for v in loaded.model.input_shape[1:])
    fits = model_input.shape[-1] == expected[-1] if tiled else model_input.shape == expected
    if not fits:
        raise ModelError(
            f"{loaded.stored.name} takes {expected} inputs, but its preprocessing makes {model_input.shape} "
            f"from this {image.shape[-1]}-channel image; choose another model"
        )
    return model_input


def diagnose(image: np.ndarray, classifier: LoadedModel | None = None, segmenter: LoadedModel | None = None,
             spacing: tuple[float, float] | None = None, method: str = METHODS[0],
             threshold: float = 0.5) -> Diagnosis:  # fmt: skip
    """Classify and segment one image (H×W×C as read).

    ``spacing`` (mm per pixel: rows, columns) gives the lesions' areas in mm².
    """
    started = time.perf_counter()
    result = Diagnosis()
    shape = image.shape[:2]
    if classifier is not None:
        model_input = _model_input(classifier, image, tiled=False)
        raw = np.asarray(classifier.model.predict_on_batch(model_input[None]))
        probabilities = as_probabilities(raw)[0]
        result.class_names = classifier.class_names or [f"class {k}" for k in range(probabilities.size)]
        result.probabilities = [round(float(p), 4) for p in probabilities]
        heat = heatmaps(classifier.model, model_input[None], method=method)[0]
        result.heat, result.heat_on_input = _on_image(heat, classifier.pipeline, shape, result.notes, "heat map")
    if segmenter is not None:
        model_input = _model_input(segmenter, image, tiled=True)
        probability = predict_tiled(segmenter.model, model_input, mirrors=segmenter.mirrors)
        result.lesion_probability, result.lesions_on_input = _on_image(probability, segmenter.pipeline, shape,
                                                                       result.notes, "lesion map")  # fmt: skip
        result.lesions = find_lesions(result.lesion_probability, threshold, None if result.lesions_on_input
                                      else spacing)  # fmt: skip
    result.seconds = time.perf_counter() - started
    return result


def draw_findings(picture: np.ndarray, diagnosis: Diagnosis, opacity: float = 0.35, threshold: float = 0.5,
                  color: tuple[int, int, int] = (255, 64, 64)) -> np.ndarray:  # fmt: skip
    """The RGB picture with the lesion mask filled at ``opacity``, its outline, and numbered boxes."""
    from medlib.visualize import as_rgb, draw_outline

    out = as_rgb(picture).copy()
    if diagnosis.lesion_probability is None:
        return out
    mask = diagnosis.lesion_probability >= threshold
    if opacity > 0 and mask.any():
        tint = out.copy()
        tint[mask] = color
        out = cv2.addWeighted(out, 1.0 - opacity, tint, opacity, 0.0)
    out = draw_outline(out, mask.astype(np.uint8), color)
    thickness = max(1, round(max(out.shape[:2]) / 256))
    for finding in diagnosis.lesions:
        x0, y0, x1, y1 = finding["box"]
        cv2.rectangle(out, (x0 - 2, y0 - 2), (x1 + 1, y1 + 1), (255, 220, 0), thickness)
        cv2.putText(out, str(finding["lesion"]), (x0, max(10, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * thickness, (255, 220, 0), thickness)  # fmt: skip
    return out
