"""The recipe's choices that follow the clock and the machine: the batch, a U-Net's width, the folds and the
epochs a run gets, from its time budget and the speed measured on this machine (nnU-Net plans from a GPU's
memory; here a CPU's time is what runs out)."""

from __future__ import annotations

import math
from typing import Any

from medlib.training.recipe import Choice

MIN_STEPS, MIN_EPOCHS = 1000, 30
"""A run without a time budget: at least this many optimiser steps, and at least this many passes."""
BUDGET_EPOCHS = 10_000
"""Epochs planned for a run with a time budget: the budget ends it, and the schedule follows the clock."""
UNET_WIDTH, MIN_PASSES = 16, 10
"""A U-Net's first-level filters, halved in a timed run whose budget, at the speed measured on this machine, would
buy fewer passes over the training samples than ``MIN_PASSES``: a thinner network that sees the data more often
learns more in a short budget than a wider one that sees it a few times (half the width is about a quarter of the
multiply-adds)."""
BUDGET_STEPS, MIN_BATCH = 1000, 4
"""A timed run halves its derived batch (down to ``MIN_BATCH``) while its budget, at the speed measured on this
machine, would buy fewer optimiser steps than ``BUDGET_STEPS``: on a slow machine more, smaller steps learn more
than a few large ones."""


def batch_for(train_images: int) -> tuple[int, str]:
    """The batch from the data: a tenth of the training images, a power of two from 8 to 64, and why."""
    batch = int(min(64, 2 ** round(math.log2(max(train_images / 10, 8)))))
    return batch, (f"a tenth of the {train_images} training images, a power of two from 8 to 64; a timed run "
                   f"halves it (to {MIN_BATCH} at least) while its budget buys fewer than {BUDGET_STEPS} steps")


def batch_for_budget(batch: int, seconds: float, samples_per_s: float) -> tuple[int, str]:
    """The derived batch halved (down to :data:`MIN_BATCH`) while ``seconds`` of training at ``samples_per_s``
    buy fewer than :data:`BUDGET_STEPS` optimiser steps, and why."""
    derived = batch
    while batch > MIN_BATCH and seconds * samples_per_s / batch < BUDGET_STEPS:
        batch //= 2
    steps = int(seconds * samples_per_s / batch)
    verdict = f"kept at {batch}" if batch == derived else f"halved from {derived} to {batch}"
    return batch, (f"measured {samples_per_s:.0f} samples/s on this machine: {seconds / 60:g} minutes buy about "
                   f"{steps} steps of {batch}; {verdict} (at least {BUDGET_STEPS} steps wanted)")


def width_for_budget(seconds: float, samples_per_s: float, samples_per_epoch: int) -> tuple[int, str]:
    """A U-Net's first-level filters for a timed run (:data:`UNET_WIDTH`, halved where the budget buys fewer than
    :data:`MIN_PASSES` passes over the ``samples_per_epoch`` at full width), and why."""
    passes = seconds * samples_per_s / max(samples_per_epoch, 1)
    width = UNET_WIDTH if passes >= MIN_PASSES else UNET_WIDTH // 2
    verdict = "kept" if width == UNET_WIDTH else "halved"
    return width, (f"measured {samples_per_s:.0f} samples/s at {UNET_WIDTH} filters: {seconds / 60:g} minutes buy "
                   f"{passes:.1f} passes over the {samples_per_epoch} training samples; {verdict} (at least "
                   f"{MIN_PASSES} wanted)")


SMALL_SET, FOLDS, FOLD_PASSES = 1000, (5, 3), 10
"""A timed run on at most ``SMALL_SET`` training and validation images trains on folds: the first of ``FOLDS``
whose share of the budget, at the speed measured on this machine, buys each fold ``FOLD_PASSES`` passes."""


def folds_for_budget(images: int, seconds: float, samples_per_s: float, samples_per_epoch: int) -> tuple[int, str]:
    """How many folds a timed run of ``images`` training and validation images trains (1: none), and why.

    >>> folds_for_budget(187, 600, 50.0, 160)[0], folds_for_budget(187, 60, 50.0, 160)[0]
    (5, 1)
    """
    if images > SMALL_SET:
        return 1, f"{images} images: one validation split is large enough to choose the epoch"
    for folds in FOLDS:
        passes = seconds / folds * samples_per_s / max(samples_per_epoch, 1)
        if passes >= FOLD_PASSES:
            return folds, (f"a small set ({images} images): {folds} patient-grouped folds, each trained on the rest "
                           f"and validated on its own (about {passes:.0f} passes each at the measured "
                           f"{samples_per_s:.0f} samples/s); the model stored is their ensemble, calibrated and "
                           "thresholded on their out-of-fold predictions: one small validation split lies")
    return 1, (f"a small set ({images} images), but {seconds / 60:g} minutes buy fewer than {FOLD_PASSES} passes "
               f"for {FOLDS[-1]} folds at the measured {samples_per_s:.0f} samples/s: one model")


def epochs_for(config: Any, steps_per_epoch: int) -> Choice:
    """How many passes: set, the whole time budget, or enough for :data:`MIN_STEPS` steps and :data:`MIN_EPOCHS`."""
    if config.epochs:
        return Choice(config.epochs, "set", False)
    if config.max_minutes:
        return Choice(BUDGET_EPOCHS, f"as many as {config.max_minutes:g} minutes allow: the budget ends the run and "
                                     "the learning rate follows the clock")
    epochs = max(MIN_EPOCHS, math.ceil(MIN_STEPS / max(steps_per_epoch, 1)))
    return Choice(epochs, f"at least {MIN_STEPS} optimiser steps ({steps_per_epoch} an epoch) and {MIN_EPOCHS} passes")

