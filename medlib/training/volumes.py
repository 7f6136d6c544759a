"""Training on volumes (MRI, CT): the 3-D recipe planned from the set's fingerprint as nnU-Net plans its own, a 3-D
U-Net on patches, seeded 3-D augmentation, validation per structure each epoch, the time budget used whole, and the
card of a model that takes volumes.

- **Configuration**: a 3-D U-Net where the volumes are about isotropic; where one axis is over
  :data:`ANISOTROPY` times coarser than the others (thick slices), a 2-D U-Net over slices (patches one slice
  thick, convolved in their plane: :func:`medlib.models.architectures.build_unet`), as nnU-Net chooses its 2d
  configuration,
  with more slices a step and several slices of each volume an epoch.
- **Spacing**: the median of the volumes'; images resampled linearly, labels by nearest neighbour.
- **Patch**: the median resampled shape, each side up to a multiple of 8 (three halvings), at most
  :data:`MAX_PATCH` voxels; larger volumes are trained on random patches and predicted in Gaussian-blended sliding
  windows (:mod:`medlib.preprocessing.volumes`).
- **Normalisation**: MRI each volume to zero mean and unit variance; CT one window over the foreground's 0.5 to
  99.5 percentiles.
- **Augmentation**: mirrored along every axis, rotated up to 15° and scaled 0.85-1.15 (one draw in five), brightness
  and gamma, seeded by (seed, epoch, volume).
- **Inference**: the volume and its flip along each axis, their maps averaged (:data:`MIRROR_VIEWS`).
- **Loss**: Dice + cross-entropy over every structure; the kept epoch is the latest not measurably worse than the
  best by the validation volumes' Dice.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from medlib.datasets.volumes import VolumeSet
from medlib.errors import DatasetError
from medlib.models.predict import VOLUME_OVERLAP, label_map, sliding_window
from medlib.preprocessing.volumes import MIRROR_VIEWS, Prepared, VolumeSteps
from medlib.scoring.per_image import not_measurably_worse
from medlib.tasks.segment import SEGMENT
from medlib.training.budget import BUDGET_EPOCHS
from medlib.training.config import Progress, TrainConfig
from medlib.training.optimisation import cosine_rate, optimizer_for
from medlib.training.recipe import Choice

ANISOTROPY, MAX_PATCH, MIN_EPOCHS = 3.0, 96**3, 60
"""Coarsest over finest spacing above which volumes are thin stacks; the largest patch (voxels); the passes of a run
without a time budget."""
BATCH, SLICE_BATCH, SLICES_PER_VOLUME = 2, 12, 8
"""Patches a step (nnU-Net's 3-D batch); slices a step over slices, and the most slices of a volume an epoch."""


def plan_volumes(volumes: VolumeSet, train: np.ndarray) -> tuple[VolumeSteps, dict[str, Choice]]:
    """The preprocessing of a set's volumes and the choices behind it, from the training volumes' fingerprint."""
    spacings = np.array([volumes.volumes[i].spacing for i in train])
    shapes = np.array([volumes.volumes[i].image.shape for i in train])
    target = tuple(float(v) for v in np.median(spacings, axis=0))
    ratio = max(target) / min(target)
    thin = int(np.argmax(target)) if ratio > ANISOTROPY else None
    resampled = np.median(shapes * spacings / np.array(target), axis=0)
    patch = [int(math.ceil(s / 8) * 8) for s in resampled]
    if thin is not None:
        patch[thin] = 1
    while np.prod(patch) > MAX_PATCH:
        patch[int(np.argmax(patch))] -= 8
    modality = "ct" if "ct" in volumes.modality.lower() else "mri"
    window = None
    if modality == "ct":
        values = np.concatenate([volumes.volumes[i].image[volumes.volumes[i].labels > 0] for i in train[:20]
                                 if volumes.volumes[i].labels is not None])
        window = tuple(float(v) for v in np.percentile(values, [0.5, 99.5]))
    steps = VolumeSteps(target, modality, tuple(patch), window, MIRROR_VIEWS)
    voxels = f"{' × '.join(f'{v:g}' for v in target)} mm, coarsest {ratio:.1f}× the finest"
    configuration = Choice("3-D U-Net", f"about isotropic voxels ({voxels}, under {ANISOTROPY:g})") if thin is None \
        else Choice("2-D U-Net over slices", f"thin stacks ({voxels}, over {ANISOTROPY:g}): each slice segmented in "
                                             f"its plane (axis {thin} one voxel thick), as nnU-Net's 2d configuration")
    choices = {
        "configuration": configuration,
        "spacing": Choice(list(target), "the training volumes' median spacing; images resampled linearly, labels "
                                        "by nearest neighbour"),
        "patch": Choice(patch, f"the median resampled shape {[int(v) for v in resampled]}, each side up to a "
                               "multiple of 8 (three halvings of the U-Net)"),
        "normalisation": Choice(modality, "MRI: each volume to zero mean and unit variance" if modality == "mri"
                                else f"CT: one window over the foreground's 0.5-99.5 percentiles, {window} HU"),
        "batch size": Choice(BATCH, "two patches a step, as nnU-Net's 3-D configuration") if thin is None else
        Choice(SLICE_BATCH, "twelve slices a step, as nnU-Net's 2d configuration uses at least"),
        "test-time mirrors": Choice([list(axes) for axes in MIRROR_VIEWS], "the volume and its flip along each "
                                    "axis (the training mirrors every axis), their maps averaged, as nnU-Net does"),
        "patches per volume": Choice(1, "one patch of each volume an epoch") if thin is None else
        Choice(int(min(resampled[thin], SLICES_PER_VOLUME)), f"slices of each volume an epoch (its median slice "
                                                               f"count {resampled[thin]:.0f}, at most "
                                                               f"{SLICES_PER_VOLUME})"),
    }
    return steps, choices


def _one_hot(labels: np.ndarray, structures: int) -> np.ndarray:
    return np.stack([labels == k for k in range(1, structures + 1)], axis=-1).astype(np.float32)


def volume_draw(seed: int, epoch: int, index: int, patch: int = 0) -> np.random.Generator:
    """The random draw of volume ``index``'s ``patch``-th patch in ``epoch`` (from 0) of a run seeded ``seed``."""
    return np.random.default_rng([seed, epoch, index, patch] if patch else [seed, epoch, index])


def augment_patch(prepared: Prepared, patch: tuple[int, ...], rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A random patch of a prepared volume, mirrored, turned, scaled and brightened by one seeded draw."""
    image, labels = prepared.image[..., 0], prepared.labels
    corner = [int(rng.integers(0, s - p + 1)) for s, p in zip(image.shape, patch, strict=True)]
    window = tuple(slice(c, c + p) for c, p in zip(corner, patch, strict=True))
    image, labels = image[window], labels[window]
    if rng.random() < 0.2:  # one affine draw: a turn about one axis and a scale, about the patch's centre
        angle, scale = np.deg2rad(rng.uniform(-15, 15)), rng.uniform(0.85, 1.15)
        planes = [pair for pair in ((0, 1), (0, 2), (1, 2)) if min(patch[pair[0]], patch[pair[1]]) > 1]
        axes = planes[int(rng.integers(0, len(planes)))]  # a slice one voxel thick turns in its own plane
        matrix = np.eye(3)
        matrix[np.ix_(axes, axes)] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        matrix /= scale
        centre = (np.array(patch) - 1) / 2
        offset = centre - matrix @ centre
        image = ndimage.affine_transform(image, matrix, offset, order=1, mode="nearest")
        labels = ndimage.affine_transform(labels, matrix, offset, order=0, mode="constant")
    for axis in range(3):
        if rng.random() < 0.5:
            image, labels = np.flip(image, axis), np.flip(labels, axis)
    if rng.random() < 0.15:
        image = image * rng.uniform(0.75, 1.25)
    low, high = float(image.min()), float(image.max())
    if rng.random() < 0.15 and high > low:
        image = low + ((image - low) / (high - low)) ** rng.uniform(0.7, 1.5) * (high - low)
    return np.ascontiguousarray(image, np.float32)[..., None], np.ascontiguousarray(labels)


def _predict(model: Any, prepared: list[Prepared], patch: tuple[int, ...]) -> list[np.ndarray]:
    return [sliding_window(model, p.image, patch, VOLUME_OVERLAP, blend="gaussian", batch=2, reduce=label_map)
            for p in prepared]


def development(volumes: VolumeSet) -> tuple[np.ndarray, np.ndarray]:
    """The labelled volumes of the set's train split, and those of its val split."""
    train, val = np.flatnonzero(volumes.split == "train"), np.flatnonzero(volumes.split == "val")
    train = np.array([i for i in train if volumes.volumes[i].labels is not None], int)
    if train.size < 2 or val.size < 1:
        raise DatasetError(f"{volumes.name} has too few labelled volumes to train ({train.size} train, {val.size} "
                           "validation)")
    return train, val


def train_volumes(config: TrainConfig, volumes: VolumeSet, progress: Progress, stop: threading.Event | None = None,
                  split: tuple[np.ndarray, np.ndarray] | None = None,
                  planned: tuple[VolumeSteps, dict[str, Choice]] | None = None) -> tuple[Any, dict[str, Any]]:
    """Fit a volume model by ``config`` (its seed, epochs or time budget, learning rate, early stopping, the stored
    model it starts from) on the set's train split, validated on its val split (or on the volumes of ``split``:
    training, validation); the model (kept weights) and what its card records. ``planned``: the preprocessing and
    its choices where a run of several folds planned them once."""
    import keras

    from medlib.models.architectures import build_model
    from medlib.models.losses import map_loss
    from medlib.training.fit import start_from

    train, val = split if split is not None else development(volumes)
    steps, choices = planned if planned is not None else plan_volumes(volumes, train)
    choices = dict(choices)
    k = len(volumes.structures)
    prepare = [steps.prepare(v.image, v.spacing, v.labels) for v in volumes.volumes]
    keras.utils.set_random_seed(config.seed)
    model = build_model("unet", (*steps.patch, 1), k + 1, prior=None)
    initialised = start_from(config.init_from, model, ["background", *volumes.structures]) \
        if config.init_from else None
    model.compile(optimizer=optimizer_for(config), loss=map_loss())
    epochs = config.epochs or (BUDGET_EPOCHS if config.max_minutes else MIN_EPOCHS)
    choices["epochs"] = Choice(epochs, "set" if config.epochs else "as many as the time limit allows"
                               if config.max_minutes else f"{MIN_EPOCHS} passes", not config.epochs)
    batch, per_volume = choices["batch size"].value, choices["patches per volume"].value
    progress({"event": "start", "model": "unet", "task": SEGMENT.name, "input_shape": [*steps.patch, 1],
              "train": int(train.size), "val": int(val.size), "batch_size": batch, "epochs": epochs, "folds": 1,
              "notes": [], "parameters": int(model.count_params()), "init_from": initialised,
              "recipe": {name: c.to_dict() for name, c in choices.items()}})
    started, history, best, best_scores, kept, wait, ended = time.perf_counter(), [], -1.0, None, None, 0, "completed"
    truths = [prepare[i].labels for i in val]
    for epoch in range(epochs):
        begun = time.perf_counter()
        done = max(epoch / epochs, (begun - started) / (config.max_minutes * 60) if config.max_minutes else 0.0)
        model.optimizer.learning_rate = cosine_rate(config.learning_rate, done) if config.schedule == "cosine" \
            else config.learning_rate
        order = np.random.default_rng([config.seed, epoch]).permutation(train)
        pairs = [augment_patch(prepare[i], steps.patch, volume_draw(config.seed, epoch, int(i), draw))
                 for i in order for draw in range(per_volume)]
        x = np.stack([p[0] for p in pairs])
        y = np.stack([_one_hot(p[1], k) for p in pairs])
        loss = float(model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False).history["loss"][-1])
        predicted = _predict(model, [prepare[i] for i in val], steps.patch)
        scores = np.array([np.mean([2 * np.sum((t == s) & (p == s)) / max(np.sum(t == s) + np.sum(p == s), 1)
                                    for s in range(1, k + 1)]) for t, p in zip(truths, predicted, strict=True)])
        row = {"epoch": epoch + 1, "loss": loss, "lr": float(np.asarray(model.optimizer.learning_rate)),
               "seconds": time.perf_counter() - begun, "val_dice": float(scores.mean())}
        history.append(row)
        if scores.mean() > best:
            best, best_scores, kept, wait = float(scores.mean()), scores, (epoch + 1, model.get_weights()), 0
        elif not_measurably_worse(scores, best_scores):
            kept, wait = (epoch + 1, model.get_weights()), 0
        else:
            wait += 1
        elapsed = time.perf_counter() - started
        progress({"event": "batch", "epoch": epoch + 1, "epochs": epochs, "batch": 1, "batches": 1, "loss": loss,
                  "progress": min(1.0, max((epoch + 1) / epochs, elapsed / (config.max_minutes * 60)
                                           if config.max_minutes else 0.0)),
                  "images_per_s": train.size / max(row["seconds"], 1e-9), "eta_s": 0.0})
        progress({"event": "epoch", **row, "kept_epoch": kept[0], "monitor": "val_dice"})
        if stop is not None and stop.is_set():
            ended = "stopped"
            break
        if config.max_minutes and elapsed + row["seconds"] > config.max_minutes * 60:
            ended = "time budget"
            break
        if config.early_stopping and wait >= config.early_stopping and epoch + 1 >= epochs // 2:
            ended = "early stopping"
            break
    model.set_weights(kept[1])
    facts = {"steps": steps, "choices": choices, "history": history, "ended": ended, "kept_epoch": kept[0],
             "init_from": initialised,
             "seconds": round(time.perf_counter() - started, 1), "train": train, "val": val}
    return model, facts


def volume_card_facts(volumes: VolumeSet, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The card's data-set entry for a volume set."""
    counts = {split: int((volumes.split == split).sum()) for split in ("train", "val", "test")}
    return {"name": volumes.name, "synthetic": False, "dimensions": 3, "channels": 1, "counts": counts,
            "spacing": list(facts["steps"].spacing), "modality": volumes.modality, "fit": "as read"}
