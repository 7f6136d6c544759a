"""Where a stored classifier looks on a split of a data set: heat maps of its images (``medlib explain``, the
Evaluation page's gallery), their overlays, and their localization scores against the masks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.models.architectures import ModelError
from medlib.models.heatmaps import METHODS, heatmaps, localization, overlay
from medlib.models.loaded import LoadedModel, check_fit
from medlib.scoring.evaluate import split_index


def explain_images(
    loaded: LoadedModel, dataset: Dataset, index: np.ndarray, method: str = METHODS[0],
    class_index: np.ndarray | None = None, batch: int = 32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Heat maps for the images at ``index``, with the model inputs and (where the set has them) the masks.

    All three are at the model's input resolution, after the card's preprocessing.
    ``class_index`` picks the class to explain per image (default: the predicted one).
    """
    inputs, masks = [], []
    for i in index:
        image, mask = loaded.pipeline.apply(dataset.images[i], dataset.masks[i] if dataset.masks is not None else None)
        inputs.append(image)
        masks.append(mask)
    inputs_array = np.stack(inputs).astype(np.float32)
    heat = np.concatenate([
        heatmaps(loaded.model, inputs_array[start : start + batch], method=method,
                 class_index=None if class_index is None else class_index[start : start + batch])
        for start in range(0, len(index), batch)
    ])
    return heat, inputs_array, None if dataset.masks is None else np.stack(masks)


def _display(model_input: np.ndarray) -> np.ndarray:
    """A model input (H×W×C float) as a uint8 picture: its own range, first channel or RGB."""
    from medlib.display.drawing import scale_to_uint8

    return scale_to_uint8(model_input if model_input.shape[-1] == 3 else model_input[..., 0])


def explanation_picture(model_input: np.ndarray, heat: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The heat-map overlay on the model input, with the lesion outline (green) where a mask is given."""
    from medlib.display.drawing import draw_outline

    picture = overlay(_display(model_input), heat)
    return draw_outline(picture, mask, color=(64, 255, 64)) if mask is not None and mask.any() else picture


def write_explanations(loaded: LoadedModel, dataset: Dataset, split: str, out: Path, method: str = METHODS[0],
                       limit: int = 64) -> dict[str, Any]:
    """Write heat-map overlays (PNG) for a split; where masks exist, score the localization of every lesion.

    Each image is explained for its true class (where labels exist), so the
    pointing game asks: does the evidence for the lesion class lie on the lesion?
    """
    import cv2

    if not loaded.task.explains():
        raise ModelError(f"{loaded.stored.name} is a {loaded.task.title} model: its output is already a map; "
                         "explain a classifier")
    check_fit(loaded, dataset)
    index = split_index(dataset, split)
    truth = dataset.labels[index]
    heat, inputs, masks = explain_images(loaded, dataset, index, method, class_index=truth)
    result: dict[str, Any] = {"model": loaded.stored.name, "split": split, "method": method, "images": int(index.size)}
    if masks is not None:
        result.update(localization(heat, masks))
    order = np.argsort(~masks.any(axis=(1, 2)), kind="stable") if masks is not None else np.arange(index.size)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for k in order[:limit]:
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in dataset.ids[index[k]])
        label = loaded.class_names[truth[k]] if truth[k] < len(loaded.class_names) else str(truth[k])
        picture = explanation_picture(inputs[k], heat[k], None if masks is None else masks[k])
        cv2.imwrite(str(out / f"{name}_{label}_{method}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        written += 1
    return result | {"written": written, "out": str(out)}
