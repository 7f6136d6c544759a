"""The run's monitor, driven epoch by epoch without ``fit``: which weights it keeps, when patience ends a run,
how the time budget and a stop request end it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from medlib.datasets import Dataset
from medlib.datasets.split import assign_splits
from medlib.training import TrainConfig, resolve

keras = pytest.importorskip("keras")


FLAT = {"preprocess": {"steps": [{"step": "resize", "params": {"height": 8}}]}}


class _Epoch:
    epoch = 0


def _setup(config: TrainConfig, stop: threading.Event | None = None):
    """A monitor on a one-weight logistic model of 40 flat 8×8 images whose value is their label plus noise."""
    from medlib.training.monitor import Monitor

    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    values = labels + rng.normal(0, 0.6, 40)
    images = np.broadcast_to(values[:, None, None, None], (40, 8, 8, 1)).astype(np.float32)
    dataset = Dataset("values", images, assign_splits(40, labels, seed=0), [str(i) for i in range(40)],
                      labels=labels, class_names=["a", "b"])
    recipe = resolve(config, dataset)
    inputs = keras.Input((8, 8, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    val = [(images[recipe.val_index], labels[recipe.val_index].astype(np.float32))]
    events: list[dict] = []
    monitor = Monitor(config, recipe, dataset, val, _Epoch(), events.append, stop)
    monitor.set_model(model)
    return monitor, model, events


def _epoch(monitor, model, epoch: int, weight: float) -> None:
    model.layers[-1].set_weights([np.array([[weight]], np.float32), np.array([-weight / 2], np.float32)])
    monitor.on_epoch_begin(epoch)
    monitor.on_epoch_end(epoch, {"loss": 0.5})


def test_the_monitor_keeps_the_best_or_a_tie_and_restores_it_at_the_end():
    monitor, model, events = _setup(TrainConfig(epochs=20, early_stopping=0, **FLAT))
    _epoch(monitor, model, 0, 4.0)  # ranks the values by label: the best AUC
    _epoch(monitor, model, 1, -4.0)  # ranks them backwards: measurably worse
    assert (monitor.best_epoch, monitor.kept_epoch, monitor.wait) == (1, 1, 1)
    _epoch(monitor, model, 2, 2.0)  # the same ranking, so the same AUC: a tie with the best, and later
    assert (monitor.best_epoch, monitor.kept_epoch, monitor.wait) == (1, 3, 0)
    _epoch(monitor, model, 3, -4.0)
    monitor.on_train_end()
    assert model.layers[-1].get_weights()[0].item() == pytest.approx(2.0)  # epoch 3's weights, not the last
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2, 3, 4]
    assert monitor.history[1]["val_auc"] < 0.5 < monitor.history[0]["val_auc"] == monitor.history[2]["val_auc"]


def test_patience_ends_a_run_only_in_its_second_half():
    monitor, model, _ = _setup(TrainConfig(epochs=10, early_stopping=2, **FLAT))
    _epoch(monitor, model, 0, 4.0)
    for epoch in range(1, 4):  # worse three times, but in the first half of the run
        _epoch(monitor, model, epoch, -4.0)
    assert monitor.wait == 3 and not model.stop_training
    _epoch(monitor, model, 5, -4.0)  # epoch 6 of 10: past half-way, patience spent
    assert model.stop_training and monitor.ended == "early stopping"


def test_a_stop_request_or_the_time_budget_ends_the_run_within_a_batch():
    stop = threading.Event()
    monitor, model, events = _setup(TrainConfig(epochs=10, **FLAT), stop)
    monitor.on_train_batch_end(0, {"loss": 0.3})
    assert not model.stop_training and events[-1]["event"] == "batch" and events[-1]["loss"] == 0.3
    stop.set()
    monitor.on_train_batch_end(1, {"loss": 0.3})
    assert model.stop_training and monitor.ended == "stopped"
    timed, model, _ = _setup(TrainConfig(epochs=10, max_minutes=0.01, **FLAT))
    timed.started -= 1.0  # 1 s into a 0.6-s budget
    assert timed.run_progress(0) > 1.0
    timed.on_train_batch_end(0, {})
    assert model.stop_training and timed.ended == "time budget"


def test_a_stuck_metric_is_said_in_plain_words_and_a_moving_one_is_not():
    from medlib.training.stuck import stuck_lines

    stuck = [{"epoch": k, "val_auc": 0.5, "val_sensitivity": 0.0, "val_specificity": 1.0} for k in (1, 2, 3)]
    lines = stuck_lines(stuck)
    assert len(lines) == 2 and "called negative" in lines[0] and "AUC has stayed at 0.5" in lines[1]
    moving = [{"epoch": 1, "val_auc": 0.5, "val_sensitivity": 1.0, "val_specificity": 0.0},
              {"epoch": 2, "val_auc": 0.62, "val_sensitivity": 0.8, "val_specificity": 0.4}]
    assert stuck_lines(moving) == [] and stuck_lines(moving[:1]) == []  # one epoch is not yet stuck
