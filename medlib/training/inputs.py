"""The tf.data input of a run: preprocess in parallel and cache, random patches, augmentation, batches, mixup."""

from __future__ import annotations

import random
import threading

import numpy as np

from medlib.augment import Augmenter, draw_once
from medlib.datasets import Dataset
from medlib.training.plan import RunPlan


class Augment:
    """Augmentation for tf.data, a batch per call: sample ``k`` of a batch whose first sample is number ``first``
    gets a fresh generator seeded by (seed, epoch, first + k), so parallel calls agree and a sample's draw does
    not depend on the batch size.

    One call per batch, not per sample: each ``tf.numpy_function`` call waits for the interpreter, and per
    28-pixel sample that wait cost several times the augmentation itself.
    """

    def __init__(self, augmenter: Augmenter, shape: tuple[int, ...], seed: int) -> None:
        self.augmenter, self.shape, self.seed, self.epoch = augmenter, shape, seed, 0
        self.local = threading.local()

    def __call__(self, images: np.ndarray, targets: np.ndarray, first: np.int64):
        compose = getattr(self.local, "compose", None)
        if compose is None:
            compose = self.local.compose = self.augmenter.compose(self.shape, None, record=False)
        has_mask = targets.ndim >= 3
        out_images = np.empty(images.shape, np.float32)
        out_targets = np.empty(targets.shape, np.float32)
        for k in range(len(images)):
            key = [self.seed, self.epoch, int(first) + k]
            compose.set_random_state(np.random.default_rng(key), random.Random(hash(tuple(key))))
            out_images[k], mask, _, _ = draw_once(compose, images[k], targets[k] if has_mask else None)
            out_targets[k] = mask if has_mask else targets[k]
        return out_images, out_targets


def make_inputs(dataset: Dataset, index: np.ndarray, plan: RunPlan, seed: int, augment: Augment | None = None,
                shuffle: bool = False, batch: int | None = None):
    """A tf.data pipeline: preprocess in parallel, cache, (shuffle,) batch, (augment batches in parallel,) prefetch.

    A map model's target is its label map (values 0..K) until the batch is made, moved with the image by the
    same crop and augmentation draw (nearest, so no value is blended), then one map per structure (K channels).

    A set held in memory is preprocessed once and cached (in memory). A set read from disk
    (:attr:`Dataset.streamed`) is not cached: each epoch shuffles the image numbers, then reads and preprocesses
    the images on parallel threads while the model trains, so memory holds only the batches in flight.
    ``batch``: the batch size, the plan's by default (a worker of a distributed run takes its share).
    """
    import tensorflow as tf

    shape = plan.input_shape
    task = plan.task
    full = plan.image_shape or shape

    def preprocess(i: np.int64):
        return task.sample(dataset, int(i), plan.pipeline)

    target_shape = task.target_shape(shape)

    def tf_preprocess(i):
        image, target = tf.numpy_function(preprocess, [i], (tf.float32, tf.float32))
        image.set_shape(full)
        target.set_shape(task.target_shape(full))
        return image, target

    data = tf.data.Dataset.from_tensor_slices(index.astype(np.int64))
    samples = len(index) * plan.patches_per_image
    if dataset.streamed:  # the numbers are shuffled and repeated (one per patch), each read as it is drawn
        data = data.repeat(plan.patches_per_image)
        if shuffle:
            data = data.shuffle(samples, seed=seed, reshuffle_each_iteration=True)
        data = data.map(tf_preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        data = data.map(tf_preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
        data = data.repeat(plan.patches_per_image)
    if plan.image_shape is not None:  # random patches: a fresh draw per image, epoch and position
        channels = shape[-1]

        def crop(pair, draw):
            stacked = tf.concat([pair[0], pair[1][..., None]], axis=-1)
            patch = tf.image.stateless_random_crop(stacked, (shape[0], shape[1], channels + 1),
                                                   seed=tf.stack([tf.constant(seed, tf.int64), draw]))
            return patch[..., :channels], patch[..., channels]

        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)  # new patches every epoch
        data = tf.data.Dataset.zip((data, draws)).map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle and not dataset.streamed:
        data = data.shuffle(samples, seed=seed, reshuffle_each_iteration=True)
    batch = batch or plan.batch_size
    data = data.batch(batch)
    if augment is not None and augment.augmenter.steps:

        def tf_augment(pair, first):
            images, targets = tf.numpy_function(augment, [pair[0], pair[1], first], (tf.float32, tf.float32))
            images.set_shape((None, *shape))
            targets.set_shape((None, *target_shape))
            return images, targets

        data = tf.data.Dataset.zip((data, tf.data.Dataset.counter(step=batch)))
        data = data.map(tf_augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    data = data.map(lambda images, targets: (images, task.encode(targets, plan.num_classes)))
    return data.prefetch(tf.data.AUTOTUNE)


def weigh_batches(batches, class_weight: dict[int, float] | None, num_classes: int):
    """Batches of (images, labels, each sample's class weight): what ``fit`` makes of ``class_weight``, for a
    loop that steps the model itself (:func:`medlib.training.distribute.fit_replicated`)."""
    import tensorflow as tf

    if not class_weight:
        return batches
    weights = tf.constant([class_weight.get(k, 1.0) for k in range(num_classes)], tf.float32)
    return batches.map(lambda images, labels: (images, labels, tf.gather(weights, tf.cast(labels, tf.int32))))


def mix_batches(batches, num_classes: int, alpha: float, class_weight: dict[int, float] | None, seed: int,
                active=None):
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

