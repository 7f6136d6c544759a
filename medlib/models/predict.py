"""Model outputs on a data set's images after a pipeline: whole images in batches, segmentation maps in tiles.

The inference side: evaluation, diagnosis and training all predict through these, and none of them needs the
training code to do it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.preprocessing.pipeline import Pipeline


def predict(model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline, batch: int = 128) -> np.ndarray:
    """Model outputs for ``dataset`` images at ``index``, after ``pipeline`` (no augmentation)."""
    outputs = []
    for start in range(0, index.size, batch):
        chunk = np.stack([pipeline.apply(dataset.images[i])[0] for i in index[start : start + batch]])
        outputs.append(np.asarray(model.predict_on_batch(chunk)))
    return np.concatenate(outputs) if outputs else np.zeros((0,))


def segment_maps(model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                 mirrors: Sequence[tuple[int, ...]] = ((),)):
    """Reference masks, predicted probability maps (in tiles where images exceed the model's input; averaged over
    the ``mirrors``, see :func:`predict_tiled`) and fields of view (``None`` where the set has none), all at the
    preprocessing's geometry."""
    truths, probabilities, fovs = [], [], []
    for i in index:
        image, mask = pipeline.apply(dataset.images[i], dataset.masks[i])
        truths.append(mask)
        fovs.append(None if dataset.fov is None else pipeline.apply(dataset.images[i], dataset.fov[i])[1])
        probabilities.append(predict_tiled(model, image, mirrors=mirrors))
    return truths, probabilities, fovs


def predict_batches(model: Any, inputs: Any) -> np.ndarray:
    """Model outputs for the batches of a tf.data pipeline of (images, targets) (the targets are not used)."""
    return np.concatenate([np.asarray(model.predict_on_batch(images)) for images, _ in inputs])


def predict_tiled(model: Any, image: np.ndarray, overlap: float = 0.25, batch: int = 8,
                  mirrors: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:
    """Each structure's probability (H×W×K, one map per structure) of an image of any size, from overlapping
    model-sized tiles.

    Tiles overlap by ``overlap`` of their side and are blended with weights that
    fall towards their edges, so seams do not show; an image smaller than a tile
    is padded by reflection. An image of exactly one tile is predicted as a whole.
    ``mirrors`` lists the views to average, each as the axes to flip (``()`` is the
    image itself, ``(1,)`` left-right, ``(0,)`` top-bottom): test-time augmentation,
    one pass per view, each map mirrored back. Use only the flips the model was
    trained with (:meth:`medlib.augment.Augmenter.mirror_axes`): a model of chest
    films that never saw one upside down finds lesions in the wrong places there.
    """
    return np.mean([np.flip(_predict_tiles(model, np.flip(image, axes), overlap, batch), axes) for axes in mirrors],
                   axis=0)


def _predict_tiles(model: Any, image: np.ndarray, overlap: float, batch: int) -> np.ndarray:
    tile_h, tile_w = (int(v) for v in model.input_shape[1:3])
    height, width = image.shape[:2]
    pad_h, pad_w = max(0, tile_h - height), max(0, tile_w - width)
    padded = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect" if pad_h < height and pad_w < width
                    else "edge") if pad_h or pad_w else image
    full_h, full_w = padded.shape[:2]

    def starts(size: int, tile: int) -> list[int]:
        step = max(1, int(tile * (1.0 - overlap)))
        points = list(range(0, size - tile + 1, step))
        return points if points[-1] == size - tile else [*points, size - tile]

    corners = [(y, x) for y in starts(full_h, tile_h) for x in starts(full_w, tile_w)]
    ramp_h = np.minimum(np.arange(tile_h) + 1, np.arange(tile_h)[::-1] + 1).astype(np.float32)
    ramp_w = np.minimum(np.arange(tile_w) + 1, np.arange(tile_w)[::-1] + 1).astype(np.float32)
    weight = np.outer(np.minimum(ramp_h, tile_h / 4.0), np.minimum(ramp_w, tile_w / 4.0))
    total = np.zeros((full_h, full_w, int(model.output_shape[-1])), np.float32)
    norm = np.zeros((full_h, full_w, 1), np.float32)
    for start in range(0, len(corners), batch):
        chunk = corners[start : start + batch]
        tiles = np.stack([padded[y : y + tile_h, x : x + tile_w] for y, x in chunk]).astype(np.float32)
        outputs = np.asarray(model.predict_on_batch(tiles))
        for (y, x), out in zip(chunk, outputs, strict=True):
            total[y : y + tile_h, x : x + tile_w] += out * weight[..., None]
            norm[y : y + tile_h, x : x + tile_w] += weight[..., None]
    return (total / norm)[:height, :width]
