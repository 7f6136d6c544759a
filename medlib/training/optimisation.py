"""The optimiser, the cosine schedule, and the batch a timed run can afford on this machine."""

from __future__ import annotations

import math
import time

import numpy as np

from medlib.models.architectures import build_model
from medlib.training.budget import batch_for_budget, folds_for_budget, width_for_budget
from medlib.training.config import TrainConfig
from medlib.training.plan import RunPlan
from medlib.training.recipe import Choice

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


def optimizer_for(config: TrainConfig):
    """The optimiser at the config's rate; a cosine schedule is applied per batch by the training callback."""
    import keras

    rate = cosine_rate(config.learning_rate, 0.0) if config.schedule == "cosine" else config.learning_rate
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate)
    return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True)


PROBE_BATCH, PROBE_STEPS = 8, 3
"""The speed probe: timed steps of a batch of this size (after one that compiles)."""


def measure_speed(plan: RunPlan) -> float:
    """Training samples per second of the plan's model (at the plan's width) on this machine: a throwaway copy
    timed over :data:`PROBE_STEPS` steps of a small batch of zeros (after one that compiles)."""
    import keras

    batch = min(PROBE_BATCH, plan.batch_size)
    model = build_model(plan.model, plan.input_shape, plan.num_classes, width=plan.width)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=plan.task.loss_function(plan.num_classes))
    images = np.zeros((batch, *plan.input_shape), np.float32)
    zeros = np.zeros((batch, *plan.task.target_shape(plan.input_shape)), np.float32)
    targets = np.asarray(plan.task.encode(zeros, plan.num_classes), np.float32)
    model.train_on_batch(images, targets)
    started = time.perf_counter()
    for _ in range(PROBE_STEPS):
        model.train_on_batch(images, targets)
    return PROBE_STEPS * batch / max(time.perf_counter() - started, 1e-9)


def fit_to_budget(plan: RunPlan, config: TrainConfig) -> None:
    """In a timed run, fit the derived folds, network width and batch to what the budget buys on this machine
    (:func:`medlib.training.budget.folds_for_budget`, :func:`medlib.training.budget.width_for_budget`,
    :func:`medlib.training.budget.batch_for_budget`); the choices record the measured speed."""
    batch = plan.choices.get("batch size")
    fit_batch = batch is not None and batch.derived
    fit_folds = not config.folds
    if not config.max_minutes or not (fit_batch or "U-Net width" in plan.choices or fit_folds):
        return  # no budget, or nothing derived to fit to it: no probe
    seconds = config.max_minutes * 60.0
    speed = measure_speed(plan)
    if fit_folds:  # first: each fold gets its share of the budget
        images = plan.train_index.size + plan.val_index.size
        plan.folds, why = folds_for_budget(images, seconds, speed, plan.samples_per_epoch)
        plan.choices["folds"] = Choice(plan.folds, why)
    seconds /= plan.folds  # each fold's share
    if "U-Net width" in plan.choices:
        width, why = width_for_budget(seconds, speed, plan.samples_per_epoch)
        plan.choices["U-Net width"] = Choice(width, why)
        if width != plan.width:
            plan.width = width
            if fit_batch:  # the batch follows the thinner network's speed
                speed = measure_speed(plan)
    if fit_batch:
        plan.batch_size, why = batch_for_budget(plan.batch_size, seconds, speed)
        plan.choices["batch size"] = Choice(plan.batch_size, why)


def current_lr(optimizer) -> float:
    rate = optimizer.learning_rate
    return float(np.asarray(rate.numpy() if hasattr(rate, "numpy") else rate))


