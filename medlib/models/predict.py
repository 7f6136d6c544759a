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
from medlib.scoring.segmentation import predict_tiled


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
