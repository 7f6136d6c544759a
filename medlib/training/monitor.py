"""The callback that watches a run: validation each epoch, the weights it keeps, early stopping, stop requests,
the time budget, the learning-rate schedule and progress events.

It imports Keras; :mod:`medlib.training.run` imports it only when a run starts.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from medlib.datasets import Dataset
from medlib.scoring.per_image import (
    not_measurably_worse,
)
from medlib.training.config import MIXUP_UNTIL, Progress, TrainConfig
from medlib.training.optimisation import cosine_rate, current_lr
from medlib.training.plan import RunPlan


class Monitor(keras.callbacks.Callback):
    """Validation metrics, kept weights, early stopping, stop requests, time budget and progress events.

    The kept weights are those of the latest epoch that is not measurably worse than the best one (see
    :func:`medlib.scoring.per_image.not_measurably_worse`, per validation image): the best validation score among
    many noisy epochs is partly luck, and a later epoch at a lower learning rate that ties with it is the more
    settled model. ``epoch_of`` is an object whose ``epoch`` the monitor sets as each epoch begins (the input's
    augmentation draws by it); ``val_inputs`` are a classifier's validation batches of (images, labels).
    """

    def __init__(self, config: TrainConfig, plan: RunPlan, dataset: Dataset, val_inputs: Any, epoch_of: Any,
                 progress: Progress, stop: threading.Event | None = None, checkpoint: Path | None = None,
                 mixing: Any = None) -> None:
        super().__init__()
        self.config, self.plan, self.dataset, self.val_inputs = config, plan, dataset, val_inputs
        self.epoch_of, self.progress, self.stop = epoch_of, progress, stop
        self.checkpoint, self.mixing = checkpoint, mixing
        self.watched = plan.task.watched
        self.best, self.best_scores, self.best_epoch, self.wait = -np.inf, None, -1, 0
        self.kept_weights, self.kept_epoch = None, -1
        self.ended, self.history = "completed", []
        self.started = self.epoch_started = time.perf_counter()
        self.batches = 0
        self.scorer: Any = None
        """The model validation predicts with, where not the trained one (a copy outside a multi-worker
        strategy, given the weights after each epoch)."""

    def run_progress(self, batch: int) -> float:
        """How far the run is (0..1): by its steps, or by its time budget when that runs out first."""
        steps = self.plan.steps_per_epoch
        progress = (self.epoch_of.epoch * steps + batch) / (steps * self.plan.epochs)
        if self.config.max_minutes:
            progress = max(progress, (time.perf_counter() - self.started) / (self.config.max_minutes * 60))
        return progress

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_of.epoch = epoch
        self.epoch_started = time.perf_counter()
        if self.mixing is not None:
            self.mixing.assign(self.run_progress(0) < MIXUP_UNTIL)

    def on_train_batch_begin(self, batch, logs=None):
        # The schedule follows the run's progress, so a run cut short by its time budget still ends at the low
        # rate instead of stopping half-way down the curve.
        if self.config.schedule == "cosine":
            self.model.optimizer.learning_rate = cosine_rate(self.config.learning_rate, self.run_progress(batch))

    def on_train_batch_end(self, batch, logs=None):
        self.batches = batch + 1
        now = time.perf_counter()
        done = self.run_progress(batch + 1)
        self.progress({"event": "batch", "epoch": self.epoch_of.epoch + 1, "epochs": self.plan.epochs,
                       "batch": batch + 1, "batches": self.plan.steps_per_epoch,
                       "loss": float((logs or {}).get("loss", np.nan)), "progress": min(done, 1.0),
                       "images_per_s": (batch + 1) * self.plan.batch_size / max(now - self.epoch_started, 1e-9),
                       "eta_s": (now - self.started) * (1.0 - done) / max(done, 1e-9)})
        if self.stop is not None and self.stop.is_set():
            self.ended = "stopped"
            self.model.stop_training = True
        elif self.config.max_minutes and now - self.started > self.config.max_minutes * 60:
            self.ended = "time budget"
            self.model.stop_training = True

    def validation_scores(self, logs: dict[str, Any]) -> np.ndarray:
        """Score the validation images (adding ``val_*`` entries to ``logs``) as the run's task does
        (:meth:`medlib.tasks.base.Task.validation_scores`); per-image scores, higher better."""
        plan = self.plan
        return plan.task.validation_scores(self.scorer or self.model, self.dataset, plan.val_index, plan.pipeline,
                                           self.val_inputs, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        scores = self.validation_scores(logs)
        row = {"epoch": epoch + 1, "loss": float(logs.get("loss", np.nan)), "lr": current_lr(self.model.optimizer),
               "seconds": time.perf_counter() - self.epoch_started,
               **{k: float(v) for k, v in logs.items() if k.startswith("val_")}}
        self.history.append(row)
        if np.mean(scores) > self.best:
            self.best, self.best_scores, self.best_epoch = float(np.mean(scores)), scores, epoch + 1
            self.keep(epoch)
        elif self.best_scores is not None and not_measurably_worse(scores, self.best_scores):
            self.keep(epoch)
        else:
            # Patience counts epochs measurably worse than the best, and only after the first half of the run
            # (by its steps or its clock): early epochs at a high learning rate are noisy, and a lucky one must
            # not end a run.
            self.wait += 1
            settled = epoch + 1 >= 5 and self.run_progress(self.plan.steps_per_epoch) >= 0.5
            if self.config.early_stopping and self.wait >= self.config.early_stopping and settled:
                self.ended = "early stopping"
                self.model.stop_training = True
        self.progress({"event": "epoch", **row, "best_epoch": self.best_epoch, "kept_epoch": self.kept_epoch,
                       "monitor": self.watched})

    def keep(self, epoch: int) -> None:
        """Keep this epoch's weights (in memory, and in the checkpoint file where there is one)."""
        self.kept_epoch, self.wait = epoch + 1, 0
        self.kept_weights = [w.copy() for w in self.model.get_weights()]
        if self.checkpoint is not None:
            self.model.save_weights(self.checkpoint)

    def on_train_end(self, logs=None):
        if self.kept_weights is not None:
            self.model.set_weights(self.kept_weights)


class SaveEachEpoch(keras.callbacks.Callback):
    """Write the run's state to its backup (:class:`medlib.training.resume.Backup`) after the monitor has judged
    each epoch (list it after the monitor)."""

    def __init__(self, backup: Any, monitor: Monitor) -> None:
        super().__init__()
        self.backup, self.monitor = backup, monitor

    def on_epoch_end(self, epoch, logs=None):
        self.backup.save(self.model, self.monitor, epoch + 1)
