"""The losses a model learns by: cross-entropy for one class per image, Dice + cross-entropy for maps, a focal loss
on object centres with their sizes for a detector (the task picks one, :mod:`medlib.tasks`)."""

from __future__ import annotations

from typing import Any


def classification_loss(num_classes: int, smoothing: float = 0.0, soft_targets: bool = False) -> Any:
    """Cross-entropy: binary for two classes (one sigmoid output), categorical for more; on one-hot rows where the
    targets are soft (mixup), with ``smoothing`` of the 0/1 targets."""
    import keras

    if num_classes == 2:
        return keras.losses.BinaryCrossentropy(label_smoothing=smoothing)
    if soft_targets:
        return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    if not smoothing:
        return "sparse_categorical_crossentropy"

    def smoothed_crossentropy(target, output):
        labels = keras.ops.cast(keras.ops.reshape(target, (-1,)), "int32")
        onehot = keras.ops.one_hot(labels, num_classes)
        return keras.losses.categorical_crossentropy(onehot, output, label_smoothing=smoothing)

    return smoothed_crossentropy


def map_loss(over_batch: bool = False, focal: bool = False) -> Any:
    """Binary cross-entropy plus the soft Dice loss of each map (one per structure, averaged over the maps): the
    two together learn small structures that cross-entropy alone leaves out (nnU-Net's choice).

    The Dice is each image's own, or (``over_batch``) the whole batch's, as nnU-Net's batch Dice: for findings a few
    pixels wide on some images only, an image without one scores a perfect Dice by predicting nothing, and each
    image's own Dice pulls every map to zero (on JSRT nodules a model learned to draw nothing at all); over the
    batch, such an image counts only through what it wrongly draws. ``focal``: the cross-entropy of each pixel
    weighed down where it is already well predicted (Lin et al. 2017, gamma 2) and summed over the batch's
    pixels, divided by how many of them belong to a finding (as RetinaNet normalises by its positive anchors):
    averaged over every pixel instead, the few pixels of the findings weigh nothing, the maps sink to zero and
    their sigmoid stops learning. A target of -1 (a structure its set does not label, :mod:`medlib.datasets.partial`)
    is left out of both terms.
    """
    import keras

    axes = (0, 1, 2) if over_batch else (1, 2)
    focal_loss = keras.losses.BinaryFocalCrossentropy(gamma=2.0, reduction=None) if focal else None

    def bce_dice(target, output):
        known = keras.ops.cast(target >= 0.0, output.dtype)  # a target of -1: not known there (partial labels)
        target, output = target * known, output * known
        if focal_loss is not None:
            pixels = keras.ops.sum(focal_loss(target[..., None], output[..., None]) * known, axis=(1, 2, 3))
            cross = pixels / (keras.ops.sum(target) + 1.0)
        else:
            clipped = keras.ops.clip(output, 1e-7, 1.0 - 1e-7)
            pixel = -(target * keras.ops.log(clipped) + (1.0 - target) * keras.ops.log(1.0 - clipped)) * known
            # over the first two spatial axes and the maps, as the Dice below (a volume's deeper axis stays apart)
            cross = keras.ops.sum(pixel, axis=(1, 2, -1)) / keras.ops.maximum(keras.ops.sum(known, axis=(1, 2, -1)),
                                                                               1.0)
        overlap = keras.ops.sum(target * output, axis=axes)
        total = keras.ops.sum(target + output, axis=axes)
        dice = 1.0 - (2.0 * overlap + 1.0) / (total + 1.0)
        return cross + keras.ops.mean(dice, axis=-1)

    return bce_dice



def centre_loss(size_weight: float = 0.1) -> Any:
    """CenterNet's loss (Zhou et al. 2019) on maps of ``K`` centre channels and one radius channel: the
    penalty-reduced focal loss of each centre map against Gaussian bumps that peak at 1 on each finding's centre
    pixel (alpha 2, beta 4: a near miss costs little, a confident false peak much, so hard negatives weigh by
    themselves), plus ``size_weight`` times the L1 error of the radius at the centres; both divided by the batch's
    count of centres (at least 1: a batch of normal films still learns to stay quiet)."""
    import keras

    ops = keras.ops

    def focal_centres(target, output):
        heat, wanted = ops.clip(output[..., :-1], 1e-6, 1.0 - 1e-6), target[..., :-1]
        centre = ops.cast(wanted >= 1.0, output.dtype)
        positive = -ops.log(heat) * (1.0 - heat) ** 2 * centre
        negative = -ops.log(1.0 - heat) * heat**2 * (1.0 - wanted) ** 4 * (1.0 - centre)
        count = ops.maximum(ops.sum(centre), 1.0)
        at_centre = ops.max(centre, axis=-1)
        size = ops.sum(ops.abs(target[..., -1] - output[..., -1]) * at_centre)
        return (ops.sum(positive) + ops.sum(negative) + size_weight * size) / count

    return focal_centres
