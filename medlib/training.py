"""Training: a JSON config, a tf.data input pipeline with the preprocessing and augmentation specs,
live progress events, early stopping on a validation metric, a stop request, and the model store.

The default recipe picks its settings from the data (image size, channels,
class count, imbalance) and the validation split, not from constants tuned
to one data set.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medlib.augment import Augmenter, draw_once, load_augmenter
from medlib.calibration import decision_threshold, fit_calibration, fold_into
from medlib.datasets import FITS, Dataset, load_dataset
from medlib.datasets.split import assign_splits
from medlib.errors import DatasetError, MedlibError
from medlib.evaluation import classifier_scores
from medlib.fingerprint import data_fingerprint
from medlib.gate import fit_profile, mask_statistics
from medlib.metrics import as_probabilities, auc_per_image, classification_metrics
from medlib.models import (
    ARCHITECTURES,
    DEFAULT_SEGMENTER,
    ModelError,
    bn_momentum_for,
    build_model,
    dense_head,
    features_model,
    unet_depth_for,
)
from medlib.preprocess import Pipeline, load_pipeline
from medlib.recipe import Choice, derive, epochs_for
from medlib.segmentation import mask_metrics, predict_tiled, split_metrics
from medlib.spec import Param, SpecError
from medlib.store import StoredModel, library_versions, save_model

Progress = Callable[[dict[str, Any]], None]

ABOUT_KEYS = ("description", "provenance", "license", "citation", "intended_use", "target")
"""Facts about the data and the model that a card may carry beside what training records (``target``: what a
segmenter's masks show, such as ``lung field``; it names the mask class)."""

MIXUP_UNTIL = 0.8
"""Mixup blends the batches of the run's first 80% only: the model settles on real images at the low learning
rate of the end (timm's ``mixup_off_epoch`` does the same)."""

#: Every training setting, its type and its allowed values (checked in one place).
CONFIG_PARAMS: tuple[Param, ...] = (
    Param("task", "choice", "classify", choices=("classify", "segment")),
    Param("model", "choice", "auto", choices=("auto", *ARCHITECTURES)),
    Param("image_size", "int", 0, 0, 1024, help="model input side; 0 picks it from the data"),
    Param("epochs", "int", 0, 0, 10_000, help="passes over the data; 0 derives it: the whole time budget, or at "
          "least 1,000 optimiser steps and 30 passes"),
    Param("batch_size", "int", 0, 0, 1024, help="0 picks it from the data"),
    Param("optimizer", "choice", "adamw", choices=("adamw", "adam", "sgd")),
    Param("learning_rate", "float", 2e-3, 1e-6, 1.0),
    Param("schedule", "choice", "cosine", choices=("cosine", "constant")),
    Param("weight_decay", "float", 1e-4, 0.0, 0.1),
    Param("class_weighting", "choice", "balanced", choices=("balanced", "none")),
    Param("label_smoothing", "float", 0.0, 0.0, 0.5, help="classification: soften the 0/1 targets"),
    Param("mixup", "float", 0.0, 0.0, 1.0, help="classification: blend pairs of training images and their labels "
          f"(the Beta distribution's α) in the first {MIXUP_UNTIL:.0%} of the run; 0 off"),
    Param("early_stopping", "int", 10, 0, 1000, help="epochs without improvement before stopping; 0 never"),
    Param("max_minutes", "float", 0.0, 0.0, 10_000.0, help="stop after this many minutes; 0 no limit"),
    Param("val_fraction", "float", 0.15, 0.05, 0.5, help="part of train held out when there is no val split"),
    Param("fit", "choice", FITS[0], choices=FITS, help="images of many sizes become squares: pad keeps their aspect, "
          "stretch fills the square"),
    Param("patch_size", "int", 0, 0, 512, help="segmentation: random patches of this side (a multiple of 8); "
          "0 derives it from the image and object sizes (no patches for images up to 256 px or of large objects)"),
    Param("patches_per_image", "int", 0, 0, 1000, help="segmentation with patches: patches drawn per image per "
          "epoch; 0 derives it (about 1,024 an epoch)"),
    Param("seed", "int", 0, 0, 2**31 - 1),
)


@dataclass
class TrainConfig:
    """What to train and how; every field has a sensible default (the default recipe)."""

    data: str = "phantom"
    task: str = "classify"
    model: str = "auto"
    image_size: int = 0
    preprocess: dict[str, Any] | None = None
    augment: dict[str, Any] | None = None
    epochs: int = 0
    batch_size: int = 0
    optimizer: str = "adamw"
    learning_rate: float = 2e-3
    schedule: str = "cosine"
    weight_decay: float = 1e-4
    class_weighting: str = "balanced"
    label_smoothing: float = 0.0
    mixup: float = 0.0
    early_stopping: int = 10
    max_minutes: float = 0.0
    val_fraction: float = 0.15
    fit: str = FITS[0]
    patch_size: int = 0
    patches_per_image: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for param in CONFIG_PARAMS:
            setattr(self, param.name, param.check(getattr(self, param.name), "training config"))
        if self.preprocess is not None:
            load_pipeline(self.preprocess)
        if self.augment is not None:
            load_augmenter(self.augment)
        if self.model != "auto" and ARCHITECTURES[self.model].task != self.task:
            raise SpecError(f"training config: model {self.model!r} is for the {ARCHITECTURES[self.model].task} task")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise SpecError(f"training config: unknown setting(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**dict(data))

    @classmethod
    def from_json(cls, text: str | bytes) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SpecError(f"the training config is not valid JSON ({exc})") from exc

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recipe:
    """The concrete settings of one run, resolved from the config and the data."""

    model: str
    input_shape: tuple[int, int, int]
    num_classes: int
    batch_size: int
    pipeline: Pipeline
    augmenter: Augmenter
    class_weight: dict[int, float] | None
    train_index: np.ndarray
    val_index: np.ndarray
    notes: list[str] = field(default_factory=list)
    image_shape: tuple[int, int, int] | None = None
    """The preprocessed images' shape where the model sees patches of them (``input_shape``)."""
    patches_per_image: int = 1
    choices: dict[str, Choice] = field(default_factory=dict)
    """Every setting with its reason, derived from the data or set (:mod:`medlib.recipe`)."""
    epochs: int = 0

    @property
    def samples_per_epoch(self) -> int:
        return int(self.train_index.size * self.patches_per_image)

    @property
    def steps_per_epoch(self) -> int:
        return int(math.ceil(self.samples_per_epoch / self.batch_size))


def validation_split(dataset: Dataset, fraction: float = 0.15,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, str | None]:  # fmt: skip
    """The training and validation images: the data set's own val split, else ``fraction`` of train held out
    (stratified by class, grouped by patient), with a note saying so."""
    train, val = dataset.indices("train"), dataset.indices("val")
    if val.size:
        return train, val, None
    labels = dataset.labels[train] if dataset.labels is not None else None
    groups = [dataset.groups[i] for i in train] if dataset.groups else None
    split = assign_splits(train.size, labels, groups, seed=seed, fractions=(1.0 - fraction, fraction, 0.0))
    note = f"no val split: {int((split == 'val').sum())} train images held out for validation"
    return train[split == "train"], train[split == "val"], note


def resolve(config: TrainConfig, dataset: Dataset) -> Recipe:
    """Fill the config's automatic settings from the data."""
    if config.task == "classify" and dataset.labels is None:
        raise DatasetError(f"{dataset.name} has masks but no class labels: use the segment task")
    if config.task == "segment" and dataset.masks is None:
        raise DatasetError(f"{dataset.name} has no masks: use the classify task")
    train, val, note = validation_split(dataset, config.val_fraction, config.seed)
    if train.size < 2 or val.size < 1:
        raise DatasetError(f"{dataset.name} has too few images to train ({train.size} train, {val.size} validation)")
    notes = [note] if note else []
    plan = derive(config, dataset, data_fingerprint(dataset), train)
    pipeline, patch = plan.pipeline, plan.patch if config.task == "segment" else 0
    sample, _ = pipeline.apply(dataset.images[train[0]])
    if config.preprocess is not None:
        notes.append(f"input size {sample.shape[1]}×{sample.shape[0]} comes from the preprocessing spec")
    image_shape = tuple(int(v) for v in sample.shape)
    if patch:
        if patch % 8 or patch > min(sample.shape[:2]):
            raise SpecError(f"training config: patch_size must be a multiple of 8 and at most the preprocessed "
                            f"image's side ({min(sample.shape[:2])}); got {patch}")  # fmt: skip
        size = f"{sample.shape[1]}×{sample.shape[0]}"
        notes.append(f"training on {plan.per_image} random {patch}×{patch} patches per image per epoch; "
                     f"validation and test in overlapping tiles of the {size} images")  # fmt: skip
        sample = np.zeros((patch, patch, sample.shape[-1]), np.float32)
    num_classes = len(dataset.class_names) if config.task == "classify" else 2
    class_weight = None
    if config.task == "classify" and config.class_weighting == "balanced":
        counts = np.bincount(dataset.labels[train], minlength=num_classes).astype(float)
        present = counts > 0
        class_weight = {k: float(train.size / (present.sum() * counts[k])) if counts[k] else 0.0
                        for k in range(num_classes)}  # fmt: skip
    batch = config.batch_size or int(min(64, 2 ** round(math.log2(max(train.size / 10, 8)))))
    plan.choices["batch size"] = Choice(batch, "set" if config.batch_size else
                                        f"a tenth of the {train.size} training images, a power of two from 8 to 64",
                                        not config.batch_size)  # fmt: skip
    recipe = Recipe(plan.model, tuple(int(v) for v in sample.shape), num_classes, batch, pipeline, plan.augmenter,
                    class_weight, train, val, notes, image_shape if patch else None, plan.per_image if patch else 1,
                    choices=plan.choices)  # fmt: skip
    if plan.model == DEFAULT_SEGMENTER:
        depth = unet_depth_for(recipe.input_shape)
        recipe.choices["U-Net depth"] = Choice(depth, f"its {recipe.input_shape[0]}-px input halves {depth} times")
    recipe.choices["epochs"] = epochs_for(config, recipe.steps_per_epoch)
    recipe.epochs = int(recipe.choices["epochs"].value)
    return recipe


class _Augment:
    """Per-sample augmentation for tf.data: a fresh generator per (seed, epoch, position), so parallel calls agree."""

    def __init__(self, augmenter: Augmenter, shape: tuple[int, ...], seed: int) -> None:
        self.augmenter, self.shape, self.seed, self.epoch = augmenter, shape, seed, 0
        self.local = threading.local()

    def __call__(self, image: np.ndarray, mask: np.ndarray, position: np.int64):
        compose = getattr(self.local, "compose", None)
        if compose is None:
            compose = self.local.compose = self.augmenter.compose(self.shape, None)
        key = [self.seed, self.epoch, int(position)]
        compose.set_random_state(np.random.default_rng(key), random.Random(hash(tuple(key))))
        has_mask = mask.ndim >= 2
        augmented, augmented_mask, _ = draw_once(compose, image, mask if has_mask else None)
        return augmented, (augmented_mask.astype(np.float32) if has_mask else mask)


def make_inputs(dataset: Dataset, index: np.ndarray, recipe: Recipe, task: str, seed: int,
                augment: _Augment | None = None, shuffle: bool = False):  # fmt: skip
    """A tf.data pipeline: preprocess in parallel, cache, (shuffle, augment in parallel,) batch, prefetch."""
    import tensorflow as tf

    shape = recipe.input_shape
    segment = task == "segment"
    full = recipe.image_shape or shape

    def preprocess(i: np.int64):
        mask = dataset.masks[i] if segment else None
        image, out_mask = recipe.pipeline.apply(dataset.images[i], mask)
        target = out_mask.astype(np.float32) if segment else np.float32(dataset.labels[i])
        return image.astype(np.float32), target

    target_shape = shape[:2] if segment else ()

    def tf_preprocess(i):
        image, target = tf.numpy_function(preprocess, [i], (tf.float32, tf.float32))
        image.set_shape(full)
        target.set_shape(full[:2] if segment else ())
        return image, target

    data = tf.data.Dataset.from_tensor_slices(index.astype(np.int64))
    data = data.map(tf_preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
    if recipe.image_shape is not None:  # random patches: a fresh draw per image, epoch and position
        data = data.repeat(recipe.patches_per_image)
        channels = shape[-1]

        def crop(pair, draw):
            stacked = tf.concat([pair[0], pair[1][..., None]], axis=-1)
            patch = tf.image.stateless_random_crop(stacked, (shape[0], shape[1], channels + 1),
                                                   seed=tf.stack([tf.constant(seed, tf.int64), draw]))  # fmt: skip
            return patch[..., :channels], patch[..., channels]

        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)  # new patches every epoch
        data = tf.data.Dataset.zip((data, draws)).map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        data = data.shuffle(len(index) * recipe.patches_per_image, seed=seed, reshuffle_each_iteration=True)
    if augment is not None and augment.augmenter.steps:

        def tf_augment(pair, position):
            image, target = tf.numpy_function(augment, [pair[0], pair[1], position], (tf.float32, tf.float32))
            image.set_shape(shape)
            target.set_shape(target_shape)
            return image, target

        data = tf.data.Dataset.zip((data, tf.data.Dataset.counter()))
        data = data.map(tf_augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if segment:
        data = data.map(lambda image, target: (image, target[..., None]))
    return data.batch(recipe.batch_size).prefetch(tf.data.AUTOTUNE)


def mix_batches(batches, num_classes: int, alpha: float, class_weight: dict[int, float] | None, seed: int,
                active=None):  # fmt: skip
    """Mixup (Zhang et al., 2018): blend each image of a batch with another one of the same batch, by a weight
    drawn from Beta(α, α) (the larger part kept by the first image), and their targets and class weights alike.

    Yields (images, soft targets, sample weights): a float target for two classes, one-hot rows for more.
    The draws are stateless, from the seed and a per-batch number that changes every epoch. ``active``, a
    boolean ``tf.Variable`` read as each batch is made, switches the blending off (the samples pass unmixed).
    """
    import tensorflow as tf

    weights = tf.constant([(class_weight or {}).get(k, 1.0) for k in range(num_classes)], tf.float32)

    def mix(batch, draw):
        images, labels = batch
        n = tf.shape(images)[0]
        seeds = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), draw]), 3)
        first = tf.random.stateless_gamma([n], seeds[0], alpha)
        second = tf.random.stateless_gamma([n], seeds[1], alpha)
        share = first / (first + second)
        share = tf.maximum(share, 1.0 - share)
        if active is not None:
            share = tf.where(active, share, tf.ones_like(share))
        partner = tf.argsort(tf.random.stateless_uniform([n], seeds[2]))
        labels = tf.cast(labels, tf.int32)
        onehot = tf.one_hot(labels, num_classes)
        images = share[:, None, None, None] * images + (1.0 - share[:, None, None, None]) * tf.gather(images, partner)
        targets = share[:, None] * onehot + (1.0 - share[:, None]) * tf.gather(onehot, partner)
        sample_weight = tf.gather(weights, labels)
        sample_weight = share * sample_weight + (1.0 - share) * tf.gather(sample_weight, partner)
        return images, (targets[:, 1] if num_classes == 2 else targets), sample_weight

    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip((batches, draws)).map(mix, num_parallel_calls=tf.data.AUTOTUNE)


def predict(model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline, batch: int = 128) -> np.ndarray:
    """Model outputs for ``dataset`` images at ``index``, after ``pipeline`` (no augmentation)."""
    outputs = []
    for start in range(0, index.size, batch):
        chunk = np.stack([pipeline.apply(dataset.images[i])[0] for i in index[start : start + batch]])
        outputs.append(np.asarray(model.predict_on_batch(chunk)))
    return np.concatenate(outputs) if outputs else np.zeros((0,))


def segment_maps(model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                 mirrors: Sequence[tuple[int, ...]] = ((),)):  # fmt: skip
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


def gate_vectors(model: Any, task: str, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                 mirrors: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:  # fmt: skip
    """What the gate compares for the images at ``index``: a classifier's feature vectors, or the statistics of a
    segmenter's masks (:func:`medlib.gate.mask_statistics`); masks of the data set are not needed."""
    if task == "classify":
        return predict(features_model(model), dataset, index, pipeline)
    return np.stack([mask_statistics(predict_tiled(model, pipeline.apply(dataset.images[i])[0], mirrors=mirrors))
                     for i in index])  # fmt: skip


def fit_gate(model: Any, task: str, pipeline: Pipeline, parts: Sequence[tuple[Dataset, np.ndarray, np.ndarray]],
             mirrors: Sequence[tuple[int, ...]] = ((),)) -> dict[str, Any]:  # fmt: skip
    """The card's ``gate`` entry: the profile (``features`` of a classifier, mask ``shape`` of a segmenter) of the
    training images of ``parts`` (data set, training images, validation images), its threshold set on their
    validation images (:func:`medlib.gate.fit_profile`)."""
    train = np.concatenate([gate_vectors(model, task, d, t, pipeline, mirrors) for d, t, _ in parts])
    val = np.concatenate([gate_vectors(model, task, d, v, pipeline, mirrors) for d, _, v in parts])
    fitted_on = [f"{d.name}: {t.size} training, {v.size} validation images" for d, t, v in parts]
    profile = fit_profile(train, val)
    if profile is None:
        return {"fitted_on": fitted_on, "note": "what the gate compares does not vary on these images: no profile"}
    return {"features" if task == "classify" else "shape": profile.to_dict(), "fitted_on": fitted_on}


def segmentation_losses(truths: Sequence[np.ndarray], probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """Each image's training loss (binary cross-entropy plus soft Dice loss, as in training) from its reference mask
    and predicted probability map.

    >>> segmentation_losses([np.ones((2, 2))], [np.ones((2, 2))]).round(4).tolist()
    [0.0]
    """
    losses = []
    for truth, probability in zip(truths, probabilities, strict=True):
        t, p = np.asarray(truth, np.float64), np.clip(np.asarray(probability, np.float64), 1e-7, 1 - 1e-7)
        bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
        losses.append(bce + 1.0 - (2.0 * np.sum(t * p) + 1.0) / (np.sum(t + p) + 1.0))
    return np.array(losses)


def _dice_per_image(truths, probabilities, fovs) -> np.ndarray:
    return np.array([mask_metrics(t, p, fov=f)["dice"] for t, p, f in zip(truths, probabilities, fovs,
                                                                         strict=True)])  # fmt: skip


def not_measurably_worse(scores: np.ndarray, best: np.ndarray, z: float = 2.0) -> bool:
    """Whether per-image validation ``scores`` (higher is better) are within noise of the ``best`` epoch's:
    their mean is less than ``z`` standard errors of the paired per-image differences below (about a 95%
    one-sided test for the default 2).

    >>> not_measurably_worse(np.array([0.8, 0.9, 0.7]), np.array([0.9, 0.8, 0.8]))
    True
    >>> not_measurably_worse(np.array([0.5, 0.6, 0.55]), np.array([0.9, 0.8, 0.8]))
    False
    """
    diff = np.asarray(scores, float) - np.asarray(best, float)
    if diff.size < 2:
        return bool(diff.mean() >= 0)
    return bool(diff.mean() >= -z * diff.std(ddof=1) / math.sqrt(diff.size))


def split_scores(task: str, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                 mirrors: Sequence[tuple[int, ...]] = ((),), threshold: float = 0.5) -> dict[str, Any]:  # fmt: skip
    """The card's metrics of one split, with 95% bootstrap intervals: classification metrics at ``threshold``
    (binary) with the calibration error and Brier score, or segmentation metrics (averaged over the ``mirrors``
    the model was trained with)."""
    if task == "classify":
        return classifier_scores(dataset.labels[index], predict(model, dataset, index, pipeline), threshold)
    return split_metrics(*segment_maps(model, dataset, index, pipeline, mirrors))


def calibrate(model: Any, dataset: Dataset, val: np.ndarray, pipeline: Pipeline) -> tuple[Any, dict[str, Any]]:
    """The model with calibrated outputs (:mod:`medlib.calibration`, fitted on the ``val`` images), and what the card
    records of it: the calibration and, for two classes, the decision threshold chosen on the same images."""
    head = dense_head(model)
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    logits = predict(features_model(model), dataset, val, pipeline) @ kernel + bias
    labels = dataset.labels[val]
    calibration = fit_calibration(labels, logits)
    chosen: dict[str, Any] = {"calibration": calibration.to_dict() | {"fitted_on": f"val ({val.size} images)"}}
    if logits.shape[1] == 1:
        value = decision_threshold(labels, calibration.probabilities(logits)[:, 1])
        chosen["threshold"] = {"value": value, "chosen_on": f"val ({val.size} images)",
                               "rule": "Youden's J (sensitivity + specificity - 1) at its best, the middle one of the "
                                       "cuts between scores that reach it"}  # fmt: skip
    return fold_into(model, calibration), chosen


def _root_cause(exc: Exception) -> str:
    """The Python error inside a TensorFlow error message (TF wraps it in graph-execution text)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [line for line in lines if "Error: " in line and not line.startswith(("[[", "Graph"))]
    return causes[-1] if causes else f"{type(exc).__name__}: {lines[-1] if lines else ''}"


def _loss(task: str, num_classes: int, smoothing: float = 0.0, soft_targets: bool = False):
    import keras

    if task == "classify" and num_classes == 2:
        return keras.losses.BinaryCrossentropy(label_smoothing=smoothing)
    if task == "classify" and soft_targets:  # one-hot rows (mixup)
        return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    if task == "classify" and not smoothing:
        return "sparse_categorical_crossentropy"
    if task == "classify":

        def smoothed_crossentropy(target, output):
            labels = keras.ops.cast(keras.ops.reshape(target, (-1,)), "int32")
            onehot = keras.ops.one_hot(labels, num_classes)
            return keras.losses.categorical_crossentropy(onehot, output, label_smoothing=smoothing)

        return smoothed_crossentropy

    def bce_dice(target, output):
        bce = keras.losses.binary_crossentropy(target, output)
        overlap = keras.ops.sum(target * output, axis=(1, 2, 3))
        total = keras.ops.sum(target + output, axis=(1, 2, 3))
        dice = 1.0 - (2.0 * overlap + 1.0) / (total + 1.0)
        return keras.ops.mean(bce, axis=(1, 2)) + dice

    return bce_dice


WARMUP, FINAL_RATE = 0.05, 0.01
"""The cosine schedule's linear warm-up (a fraction of the run) and its last rate (a fraction of the peak)."""


def cosine_rate(peak: float, progress: float) -> float:
    """The learning rate at ``progress`` (0..1) through a run: a linear warm-up, then a cosine decay.

    >>> cosine_rate(1.0, 0.025), cosine_rate(1.0, 0.05), round(cosine_rate(1.0, 1.0), 4)
    (0.5, 1.0, 0.01)
    """
    progress = min(max(progress, 0.0), 1.0)
    if progress < WARMUP:
        return peak * progress / WARMUP
    t = (progress - WARMUP) / (1.0 - WARMUP)
    return peak * ((1.0 - FINAL_RATE) * 0.5 * (1.0 + math.cos(math.pi * t)) + FINAL_RATE)


def _optimizer(config: TrainConfig):
    """The optimiser at the config's rate; a cosine schedule is applied per batch by the training callback."""
    import keras

    rate = cosine_rate(config.learning_rate, 0.0) if config.schedule == "cosine" else config.learning_rate
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate)
    return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True)


def _current_lr(optimizer) -> float:
    rate = optimizer.learning_rate
    return float(np.asarray(rate.numpy() if hasattr(rate, "numpy") else rate))


@dataclass
class TrainResult:
    """A finished run: the stored model, its metrics per split, the history and how it ended."""

    stored: StoredModel
    metrics: dict[str, dict[str, Any]]
    history: list[dict[str, Any]]
    ended: str


def _callbacks(model, config, recipe, dataset, val_inputs, augment, progress, stop, checkpoint, mixing=None):
    import keras

    task = config.task
    # Classification watches the validation AUC, compared image by image (DeLong's placement values), and
    # the log-loss only where the AUC is undefined. The log-loss also rises as a settled model grows more
    # confident, which tells nothing about its decisions: on PneumoniaMNIST it judged the last epochs
    # measurably worse in 9 runs of 23, and the earlier epochs it kept were never better on test.
    monitor = "val_auc" if task == "classify" else "val_dice"
    steps = recipe.steps_per_epoch

    class Monitor(keras.callbacks.Callback):
        """Validation metrics, kept weights, early stopping, stop requests, time budget and progress events.

        The kept weights are those of the latest epoch that is not measurably worse than the best one (see
        :func:`not_measurably_worse`, per validation image): the best validation score among many noisy epochs
        is partly luck, and a later epoch at a lower learning rate that ties with it is the more settled model.
        """

        def __init__(self) -> None:
            super().__init__()
            self.best, self.best_scores, self.best_epoch, self.wait = -np.inf, None, -1, 0
            self.kept_weights, self.kept_epoch = None, -1
            self.ended, self.history = "completed", []
            self.started = self.epoch_started = time.perf_counter()
            self.batches = 0

        def run_progress(self, batch: int) -> float:
            """How far the run is (0..1): by its steps, or by its time budget when that runs out first."""
            progress = (augment.epoch * steps + batch) / (steps * recipe.epochs)
            if config.max_minutes:
                progress = max(progress, (time.perf_counter() - self.started) / (config.max_minutes * 60))
            return progress

        def on_epoch_begin(self, epoch, logs=None):
            augment.epoch = epoch
            self.epoch_started = time.perf_counter()
            if mixing is not None:
                mixing.assign(self.run_progress(0) < MIXUP_UNTIL)

        def on_train_batch_begin(self, batch, logs=None):
            # The schedule follows the run's progress, so a run cut short by its time budget still ends at
            # the low rate instead of stopping half-way down the curve.
            if config.schedule == "cosine":
                self.model.optimizer.learning_rate = cosine_rate(config.learning_rate, self.run_progress(batch))

        def on_train_batch_end(self, batch, logs=None):
            self.batches = batch + 1
            elapsed = time.perf_counter() - self.epoch_started
            done = self.run_progress(batch + 1)
            run_time = time.perf_counter() - self.started
            progress({"event": "batch", "epoch": augment.epoch + 1, "epochs": recipe.epochs, "batch": batch + 1,
                      "batches": steps, "loss": float(logs.get("loss", np.nan)), "progress": min(done, 1.0),
                      "images_per_s": (batch + 1) * recipe.batch_size / max(elapsed, 1e-9),
                      "eta_s": run_time * (1.0 - done) / max(done, 1e-9)})  # fmt: skip
            if stop is not None and stop.is_set():
                self.ended = "stopped"
                self.model.stop_training = True
            elif config.max_minutes and time.perf_counter() - self.started > config.max_minutes * 60:
                self.ended = "time budget"
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            if task == "segment":  # whole validation images, in tiles where the model sees patches
                maps = segment_maps(self.model, dataset, recipe.val_index, recipe.pipeline)
                scores = _dice_per_image(*maps)
                logs["val_dice"] = float(np.mean(scores))
                logs["val_loss"] = float(np.mean(segmentation_losses(*maps[:2])))
            else:
                outputs = predict_batches(self.model, val_inputs)
                metrics = classification_metrics(dataset.labels[recipe.val_index], outputs)
                logs.update({f"val_{k}": v for k, v in metrics.items() if k != "n" and v is not None})
                losses = _log_losses(dataset, recipe, outputs)
                logs["val_loss"] = float(np.mean(losses))
                shares = auc_per_image(dataset.labels[recipe.val_index], outputs)
                scores = -losses if shares is None else shares
            row = {"epoch": epoch + 1, "loss": float(logs.get("loss", np.nan)), "lr": _current_lr(self.model.optimizer),
                   "seconds": time.perf_counter() - self.epoch_started,
                   **{k: float(v) for k, v in logs.items() if k.startswith("val_")}}  # fmt: skip
            self.history.append(row)
            if np.mean(scores) > self.best:
                self.best, self.best_scores, self.best_epoch = float(np.mean(scores)), scores, epoch + 1
                self.keep(epoch)
            elif self.best_scores is not None and not_measurably_worse(scores, self.best_scores):
                self.keep(epoch)
            else:
                # Patience counts epochs measurably worse than the best, and only after the first half of the
                # run (by its steps or its clock): early epochs at a high learning rate are noisy, and a lucky
                # one must not end a run.
                self.wait += 1
                settled = epoch + 1 >= 5 and self.run_progress(steps) >= 0.5
                if config.early_stopping and self.wait >= config.early_stopping and settled:
                    self.ended = "early stopping"
                    self.model.stop_training = True
            progress({"event": "epoch", **row, "best_epoch": self.best_epoch, "kept_epoch": self.kept_epoch,
                      "monitor": monitor})  # fmt: skip

        def keep(self, epoch: int) -> None:
            self.kept_epoch, self.wait = epoch + 1, 0
            self.kept_weights = [w.copy() for w in self.model.get_weights()]
            if checkpoint is not None:
                self.model.save_weights(checkpoint)

        def on_train_end(self, logs=None):
            if self.kept_weights is not None:
                self.model.set_weights(self.kept_weights)

    return Monitor()


def predict_batches(model, inputs) -> np.ndarray:
    return np.concatenate([np.asarray(model.predict_on_batch(images)) for images, _ in inputs])


def _log_losses(dataset: Dataset, recipe: Recipe, outputs: np.ndarray) -> np.ndarray:
    """The validation images' log-losses, one per image."""
    eps = 1e-7
    probabilities = np.clip(as_probabilities(outputs), eps, 1 - eps)
    labels = dataset.labels[recipe.val_index]
    return -np.log(probabilities[np.arange(labels.size), labels])


def _for_inference(model: Any) -> Any:
    """The same network and weights without the optimizer state (a third of the file size)."""
    import keras

    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def train(config: TrainConfig, out: Path, dataset: Dataset | None = None, progress: Progress | None = None,
          stop: threading.Event | None = None, overwrite: bool = False,
          about: Mapping[str, Any] | None = None) -> TrainResult:  # fmt: skip
    """Train a model by ``config`` and save it as ``out`` (a folder in the model store).

    ``progress`` receives events (``start``, ``batch``, ``epoch``, ``calibrate``, ``end``);
    setting ``stop`` ends training within one batch and saves the model kept so far.
    A classifier is calibrated on the validation split and, with two classes, given the decision threshold
    chosen there (:func:`calibrate`). ``about`` adds facts to the card (see :data:`ABOUT_KEYS`).
    """
    import keras
    import tensorflow as tf

    emit = progress or (lambda event: None)
    unknown = sorted(set(about or {}) - set(ABOUT_KEYS))
    if unknown:
        raise SpecError(f"the card facts hold unknown key(s) {unknown}; known: {', '.join(ABOUT_KEYS)}")
    dataset = dataset if dataset is not None else load_dataset(config.data, seed=config.seed, fit=config.fit)
    recipe = resolve(config, dataset)
    keras.utils.set_random_seed(config.seed)
    model = build_model(recipe.model, recipe.input_shape, recipe.num_classes, bn_momentum_for(recipe.steps_per_epoch))
    mixup = config.task == "classify" and config.mixup > 0
    mixing = tf.Variable(True, trainable=False, name="mixing") if mixup else None
    model.compile(optimizer=_optimizer(config), loss=_loss(config.task, recipe.num_classes, config.label_smoothing,
                                                           soft_targets=mixup))  # fmt: skip
    augment = _Augment(recipe.augmenter, recipe.input_shape, config.seed)
    train_inputs = make_inputs(dataset, recipe.train_index, recipe, config.task, config.seed, augment, shuffle=True)
    if mixup:  # the class weights travel with the blended samples
        train_inputs = mix_batches(train_inputs, recipe.num_classes, config.mixup, recipe.class_weight, config.seed,
                                   mixing)
    val_inputs = make_inputs(dataset, recipe.val_index, recipe, config.task, config.seed) if config.task == \
        "classify" else None  # fmt: skip
    emit({"event": "start", "model": recipe.model, "input_shape": list(recipe.input_shape),
          "train": int(recipe.train_index.size), "val": int(recipe.val_index.size), "batch_size": recipe.batch_size,
          "epochs": recipe.epochs, "notes": recipe.notes, "parameters": int(model.count_params()),
          "recipe": {name: choice.to_dict() for name, choice in recipe.choices.items()}})  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = out.parent / f".checkpoint-{out.name}-{os.getpid()}-{threading.get_ident()}.weights.h5"
    monitor = _callbacks(model, config, recipe, dataset, val_inputs, augment, emit, stop, checkpoint, mixing)
    started = time.perf_counter()
    try:
        model.fit(train_inputs, epochs=recipe.epochs, verbose=0, callbacks=[monitor],
                  class_weight=None if mixup else recipe.class_weight)
    except MedlibError:
        raise
    except Exception as exc:  # a failure inside TensorFlow: say which step and with what input
        raise ModelError(f"training failed: {_root_cause(exc)}") from exc
    finally:
        checkpoint.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    inference, chosen = _for_inference(model), {}
    if config.task == "classify":
        emit({"event": "calibrate", "val": int(recipe.val_index.size)})
        inference, chosen = calibrate(inference, dataset, recipe.val_index, recipe.pipeline)
    threshold = chosen.get("threshold", {}).get("value", 0.5)
    mirrors = recipe.augmenter.mirror_axes()
    metrics = {"val": split_scores(config.task, inference, dataset, recipe.val_index, recipe.pipeline, mirrors,
                                   threshold)}  # fmt: skip
    test = dataset.indices("test")
    if test.size:
        metrics["test"] = split_scores(config.task, inference, dataset, test, recipe.pipeline, mirrors, threshold)
    card = {
        "task": config.task,
        "architecture": recipe.model,
        "input_shape": list(recipe.input_shape),
        "class_names": list(dataset.class_names) if config.task == "classify" else
        ["background", str((about or {}).get("target", "foreground"))],
        "config": config.to_dict(),
        "recipe": {name: choice.to_dict() for name, choice in recipe.choices.items()},
        "preprocess": recipe.pipeline.to_dict(),
        "augment": recipe.augmenter.to_dict(),
        "dataset": {
            "name": dataset.name,
            "fingerprint": dataset.fingerprint,
            "synthetic": dataset.synthetic,
            "image_size": list(dataset.image_size),
            "fit": dataset.fit,
            "dtype": str(dataset.images.dtype),
            "channels": dataset.channels,
            "counts": dataset.counts(),
        },  # fmt: skip
        **chosen,
        "metrics": metrics,
        "history": monitor.history,
        "training": {
            "ended": monitor.ended,
            "best_epoch": monitor.best_epoch,
            "kept_epoch": monitor.kept_epoch,
            "seconds": round(seconds, 1),
            "batch_size": recipe.batch_size,
            "class_weight": recipe.class_weight,
            "notes": recipe.notes,
        },  # fmt: skip
        "versions": library_versions(),
    }
    if dataset.synthetic:
        card["intended_use"] = "SYNTHETIC training data: a demonstration model, not for clinical use."
    emit({"event": "gate", "train": int(recipe.train_index.size), "val": int(recipe.val_index.size)})
    card["gate"] = fit_gate(inference, config.task, recipe.pipeline, [(dataset, recipe.train_index, recipe.val_index)],
                            mirrors)  # fmt: skip
    card.update({k: v for k, v in (about or {}).items() if k != "target"})
    stored = save_model(inference, card, out.parent, out.name, overwrite=overwrite)
    emit({"event": "end", "ended": monitor.ended, "model": stored.name, "metrics": metrics, "seconds": seconds,
          **chosen})  # fmt: skip
    return TrainResult(stored, metrics, monitor.history, monitor.ended)
