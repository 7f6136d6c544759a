"""Model outputs: a data set's images after a pipeline in batches, and the one sliding window of films and volumes
(maps blended from overlapping patches, slab by slab), their label maps and a volume's labels on its own grid.

The inference side: evaluation, diagnosis and training all predict through these, and none of them needs the
training code to do it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.preprocessing.pipeline import Pipeline
from medlib.preprocessing.volumes import VolumeSteps


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
    the ``mirrors``, see :func:`sliding_window`) and fields of view (``None`` where the set has none), all at the
    preprocessing's geometry."""
    truths, probabilities, fovs = [], [], []
    for i in index:
        image, mask = pipeline.apply(dataset.images[i], dataset.masks[i])
        truths.append(mask)
        fovs.append(None if dataset.fov is None else pipeline.apply(dataset.images[i], dataset.fov[i])[1])
        probabilities.append(sliding_window(model, image, mirrors=mirrors))
    return truths, probabilities, fovs


def predict_batches(model: Any, inputs: Any) -> np.ndarray:
    """Model outputs for the batches of a tf.data pipeline of (images, targets) (the targets are not used)."""
    return np.concatenate([np.asarray(model.predict_on_batch(images)) for images, _ in inputs])


VOLUME_OVERLAP = 0.5
"""How much a volume model's patches overlap (nnU-Net's half a patch); a film model's overlap by a quarter."""
BLENDS = ("ramp", "gaussian")
"""How overlapping patches are blended: ``ramp``, weights falling linearly towards a patch's edges (flat over its
middle half: what the film models were scored with), or ``gaussian``, nnU-Net's (a Gaussian of an eighth of each
side, highest at the centre: what the volume models were scored with)."""


def blend_weights(patch: Sequence[int], blend: str = "ramp") -> np.ndarray:
    """The weight of each position of a patch (any number of dimensions) when overlapping patches are blended.

    >>> blend_weights((4,)).tolist(), float(blend_weights((3, 3), "gaussian")[1, 1])
    ([1.0, 1.0, 1.0, 1.0], 1.0)
    """
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    if blend == "ramp":
        axes = [np.minimum(np.minimum(np.arange(n) + 1, np.arange(n)[::-1] + 1), n / 4.0) for n in patch]
    else:
        axes = [np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / max(n * 0.125, 1e-6)) ** 2) for n in patch]
    weights = axes[0].astype(np.float64)
    for axis in axes[1:]:
        weights = np.multiply.outer(weights, axis)
    if blend == "gaussian":
        weights = np.maximum(weights / weights.max(), 1e-3)
    return weights.astype(np.float32)


def _starts(size: int, tile: int, overlap: float) -> list[int]:
    step = max(1, int(tile * (1.0 - overlap)))
    points = list(range(0, size - tile + 1, step))
    return points if points[-1] == size - tile else [*points, size - tile]


def sliding_window(model: Any, image: np.ndarray, patch: Sequence[int] | None = None, overlap: float = 0.25,
                   mirrors: Sequence[tuple[int, ...]] = ((),), blend: str = "ramp", batch: int = 8,
                   reduce: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Each structure's probability (one map per model output, spatial shape × K) of a film (H×W×C) or a volume
    (D×H×W×C) of any size, from overlapping patches of the model's input (or ``patch``): MONAI's
    ``sliding_window_inference``, its number of dimensions the image's.

    Patches overlap by ``overlap`` of their side and are blended by ``blend`` (:data:`BLENDS`), so seams do not show;
    an image smaller than a patch is padded (by reflection where it can be) and cut back. ``mirrors`` lists the
    views to average, each as the spatial axes to flip (``()`` the image itself, ``(1,)`` left-right on a film):
    test-time augmentation, each patch predicted in every view and its map mirrored back (nnU-Net's mirroring). Use
    only the flips the model was trained with (:meth:`medlib.augment.Augmenter.mirror_axes`): a model of chest
    films that never saw one upside down finds lesions in the wrong places there.

    The maps are blended slab by slab along the first axis: a slab is finished once no later patch reaches it,
    and then passed through ``reduce`` (for example to a label map) where it is given. With ``reduce``, only the
    slabs in flight are held as float maps (a 300×512×512 CT's blended maps are never held whole); the reduced slabs
    are joined and returned.
    """
    spatial = image.ndim - 1
    patch = tuple(int(v) for v in (patch or model.input_shape[1 : 1 + spatial]))
    shape = image.shape[:spatial]
    pads = [max(0, p - s) for p, s in zip(patch, shape, strict=True)]
    if any(pads):
        reflect = all(p < s for p, s in zip(pads, shape, strict=True) if p)
        image = np.pad(image, [(0, p) for p in pads] + [(0, 0)], mode="reflect" if reflect else "edge")
    full = image.shape[:spatial]
    corners = list(itertools.product(*(_starts(n, t, overlap) for n, t in zip(full, patch, strict=True))))
    weight = blend_weights(patch, blend)[..., None]
    outputs = int(model.output_shape[-1])
    depth = patch[0]
    total = np.zeros((depth, *full[1:], outputs), np.float32)
    norm = np.zeros((depth, *full[1:], 1), np.float32)
    result: np.ndarray | None = None  # the finished rows, blended (and reduced)
    done = 0  # the rows of the first axis already finished; the buffers hold rows done .. done + depth

    def finish(until: int) -> None:
        nonlocal done, result
        rows = until - done
        slab = total[:rows]
        slab /= norm[:rows]  # in place: these rows are finished
        out = reduce(slab) if reduce is not None else slab.copy()
        if result is None:
            result = np.empty((full[0], *out.shape[1:]), out.dtype)
        result[done:until] = out
        for buffer in (total, norm):  # shifted in place: the rows still in flight move to the front
            buffer[: depth - rows] = buffer[rows:]
            buffer[depth - rows :] = 0
        done = until

    for start, group in itertools.groupby(corners, key=lambda corner: corner[0]):
        if start > done:  # no patch from here on reaches the rows before it
            finish(start)
        group = list(group)
        for begin in range(0, len(group), batch):
            chunk = group[begin : begin + batch]
            tiles = np.stack([image[tuple(slice(c, c + t) for c, t in zip(corner, patch, strict=True))]
                              for corner in chunk]).astype(np.float32, copy=False)
            for axes in mirrors:
                flipped = tuple(a + 1 for a in axes)
                predicted = np.flip(np.asarray(model.predict_on_batch(np.flip(tiles, flipped))), flipped)
                for corner, out in zip(chunk, predicted, strict=True):
                    at = (slice(0, depth), *(slice(c, c + t) for c, t in zip(corner[1:], patch[1:], strict=True)))
                    total[at] += out * weight
                    norm[at] += weight
    finish(full[0])
    return result[tuple(slice(0, n) for n in shape)]


def label_map(probability: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """A label map (H×W uint8, 0 background, k for structure k) of K maps: each pixel takes its most probable
    structure where that one reaches ``threshold``."""
    probability = np.asarray(probability, np.float32)
    if probability.ndim == 2:
        probability = probability[..., None]
    best = probability.argmax(axis=-1).astype(np.uint8) + 1
    return np.where(probability.max(axis=-1) >= threshold, best, 0).astype(np.uint8)


def segment_volume(model: Any, steps: VolumeSteps, image: np.ndarray, spacing: Sequence[float],
                   threshold: float = 0.5) -> np.ndarray:
    """A volume model's label volume (0..K, each voxel its most probable structure where that reaches
    ``threshold``, averaged over the steps' mirror views) on the volume's own grid: the preprocessing's record
    inverted (padding cut off, scale undone, by nearest neighbour). The maps are blended and turned into labels slab
    by slab (:func:`sliding_window`): the whole volume's maps are never held."""
    prepared = steps.prepare(image, spacing)
    labels = sliding_window(model, prepared.image, steps.patch, VOLUME_OVERLAP, steps.mirrors, "gaussian", batch=2,
                            reduce=lambda slab: label_map(slab, threshold))
    return prepared.record.restore_map(labels, tuple(image.shape), nearest=True).astype(np.uint8)
