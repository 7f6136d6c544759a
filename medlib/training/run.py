"""A training run: its recipe, the model, the fit with its monitor, and the card saved with the model."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medlib.datasets import Dataset, load_images
from medlib.errors import MedlibError
from medlib.models import ModelError, bn_momentum_for, build_model
from medlib.recipe import Choice
from medlib.spec import SpecError
from medlib.store import StoredModel, library_versions, save_model
from medlib.training.config import ABOUT_KEYS, Progress, TrainConfig
from medlib.training.distribute import ClusterError, Placement, fit_replicated, global_batch, place
from medlib.training.inputs import Augment, make_inputs, mix_batches, weigh_batches
from medlib.training.optimisation import fit_to_budget, loss_for, optimizer_for
from medlib.training.plan import Recipe, resolve
from medlib.training.resume import Backup, agreed_epoch
from medlib.training.scoring import calibrate, fit_gate, split_scores


@dataclass
class TrainResult:
    """A finished run: the stored model (``None`` on a worker of a distributed run that is not its chief: the
    chief alone writes the store), its metrics per split, the history and how it ended."""

    stored: StoredModel | None
    metrics: dict[str, dict[str, Any]]
    history: list[dict[str, Any]]
    ended: str


def _root_cause(exc: Exception) -> str:
    """The Python error inside a TensorFlow error message (TF wraps it in graph-execution text)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [line for line in lines if "Error: " in line and not line.startswith(("[[", "Graph"))]
    return causes[-1] if causes else f"{type(exc).__name__}: {lines[-1] if lines else ''}"


def _for_inference(model: Any) -> Any:
    """The same network and weights without the optimizer state (a third of the file size)."""
    import keras

    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def model_card(config: TrainConfig, recipe: Recipe, dataset: Dataset, monitor: Any, seconds: float,
               metrics: dict[str, dict[str, Any]], chosen: dict[str, Any],
               about: Mapping[str, Any] | None = None, placement: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The card of a trained model (all but its gate): what it is, how it was trained and on what, its metrics per
    split, its calibration, and the ``about`` facts."""
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
        },
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
            **(placement or {}),
        },
        "versions": library_versions(),
    }
    if dataset.synthetic:
        card["intended_use"] = "SYNTHETIC training data: a demonstration model, not for clinical use."
    card.update({k: v for k, v in (about or {}).items() if k != "target"})
    return card


def _replicate(recipe: Recipe, config: TrainConfig, placement: Placement) -> TrainConfig:
    """Split the recipe's batch over the placement's replicas (rounded up, the learning rate following it);
    the config with the rate the run uses."""
    if placement.replicas == 1:
        return config
    batch, rate, why = global_batch(recipe.batch_size, placement.replicas, config.learning_rate)
    recipe.choices["replicas"] = Choice(placement.replicas, f"{placement.name}: each step's batch of {batch} is "
                                        f"split into {batch // placement.replicas} per replica")
    if why is None:
        return config
    recipe.batch_size = batch
    recipe.choices["batch size"] = Choice(batch, why, recipe.choices["batch size"].derived)
    recipe.count_epochs(config)
    return dataclasses.replace(config, learning_rate=rate)


_LOST_WORKER = ("UnavailableError", "AbortedError", "DeadlineExceededError", "CancelledError")


def train(config: TrainConfig, out: Path, dataset: Dataset | None = None, progress: Progress | None = None,
          stop: threading.Event | None = None, overwrite: bool = False,
          about: Mapping[str, Any] | None = None, strategy: str = "one", resume: bool | None = None) -> TrainResult:
    """Train a model by ``config`` and save it as ``out`` (a folder in the model store).

    ``progress`` receives events (``start``, ``batch``, ``epoch``, ``calibrate``, ``end``);
    setting ``stop`` ends training within one batch and saves the model kept so far.
    A classifier is calibrated on the validation split and, with two classes, given the decision threshold
    chosen there (:func:`calibrate`). ``about`` adds facts to the card (see :data:`ABOUT_KEYS`).

    ``strategy`` is where it trains (:data:`medlib.training.distribute.STRATEGIES`): under ``multiworker`` every
    worker runs this same call and only the chief (worker 0) writes the store. With ``resume`` (the default
    under ``multiworker``) the state is kept after each epoch beside ``out``, and a run started again goes on
    from the latest epoch it finished.
    """
    if strategy == "multiworker" and config.max_minutes:
        raise SpecError("a multi-worker run is set by its steps, not a time limit (the workers' clocks would "
                        "disagree on when to stop): drop --max-minutes, and set --epochs if the default is too long")
    placement = place(strategy)  # first: a multi-worker strategy must exist before any other TensorFlow work
    import keras
    import tensorflow as tf

    emit = progress or (lambda event: None)
    unknown = sorted(set(about or {}) - set(ABOUT_KEYS))
    if unknown:
        raise SpecError(f"the card facts hold unknown key(s) {unknown}; known: {', '.join(ABOUT_KEYS)}")
    resume = placement.name == "multiworker" if resume is None else resume
    if dataset is None:
        dataset = load_images(config.data, "training", seed=config.seed, fit=config.fit)
    recipe = resolve(config, dataset)
    fit_to_budget(recipe, config)
    config = _replicate(recipe, config, placement)
    keras.utils.set_random_seed(config.seed)
    mixup = config.task == "classify" and config.mixup > 0
    mixing = tf.Variable(True, trainable=False, name="mixing") if mixup else None
    with placement.strategy.scope():
        model = build_model(recipe.model, recipe.input_shape, recipe.num_classes,
                            bn_momentum_for(recipe.steps_per_epoch), recipe.width)
        loss = loss_for(config.task, recipe.num_classes, config.label_smoothing, soft_targets=mixup)
        model.compile(optimizer=optimizer_for(config), loss=loss)
        model.optimizer.build(model.trainable_variables)
    augment = Augment(recipe.augmenter, recipe.input_shape, config.seed)

    def training_batches(index, batch=None):
        batches = make_inputs(dataset, index, recipe, config.task, config.seed, augment, shuffle=True, batch=batch)
        if mixup:  # the class weights travel with the blended samples
            return mix_batches(batches, recipe.num_classes, config.mixup, recipe.class_weight, config.seed, mixing)
        return batches

    val_inputs = make_inputs(dataset, recipe.val_index, recipe, config.task, config.seed) if config.task == \
        "classify" else None
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = out.parent / f".checkpoint-{out.name}-{os.getpid()}-{threading.get_ident()}.weights.h5"
    from medlib.training.monitor import Monitor, SaveEachEpoch

    monitor = Monitor(config, recipe, dataset, val_inputs, augment, emit, stop, checkpoint, mixing)
    backup = Backup(out.parent / f".backup-{out.name}", placement.index) if resume else None
    initial = agreed_epoch(placement, backup) if backup is not None else 0
    if initial:
        backup.restore(model, monitor, initial)
    emit({"event": "start", "model": recipe.model, "input_shape": list(recipe.input_shape),
          "train": int(recipe.train_index.size), "val": int(recipe.val_index.size), "batch_size": recipe.batch_size,
          "epochs": recipe.epochs, "notes": recipe.notes, "parameters": int(model.count_params()),
          "recipe": {name: choice.to_dict() for name, choice in recipe.choices.items()},
          **placement.to_dict(), "resumed_after_epoch": initial})
    callbacks = [monitor] + ([SaveEachEpoch(backup, monitor)] if backup is not None else [])
    started = time.perf_counter()
    try:
        if placement.workers > 1:
            monitor.scorer = _for_inference(model)

            def worker_batches(context):
                share = recipe.train_index[context.input_pipeline_id :: context.num_input_pipelines]
                batches = training_batches(share, context.get_per_replica_batch_size(recipe.batch_size))
                return (batches if mixup else weigh_batches(batches, recipe.class_weight, recipe.num_classes)).repeat()

            fit_replicated(model, placement, worker_batches, recipe.epochs, recipe.steps_per_epoch, callbacks, initial,
                           monitor.scorer)
        else:
            model.fit(training_batches(recipe.train_index), epochs=recipe.epochs, initial_epoch=initial, verbose=0,
                      callbacks=callbacks, class_weight=None if mixup else recipe.class_weight)
    except MedlibError:
        raise
    except Exception as exc:  # a failure inside TensorFlow: say which step and with what input
        if placement.workers > 1 and type(exc).__name__ in _LOST_WORKER:
            done = backup.epochs()[-1] if backup is not None and backup.epochs() else 0
            raise ClusterError(f"a worker of the run was lost ({_root_cause(exc)}); start every worker again with "
                               f"the same command: the run goes on after epoch {done}") from exc
        raise ModelError(f"training failed: {_root_cause(exc)}") from exc
    finally:
        checkpoint.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    if not placement.chief:
        if backup is not None:
            backup.remove()
        emit({"event": "end", "ended": monitor.ended, "model": None, "metrics": {}, "seconds": seconds})
        return TrainResult(None, {}, monitor.history, monitor.ended)
    inference, chosen = _for_inference(model), {}
    if config.task == "classify":
        emit({"event": "calibrate", "val": int(recipe.val_index.size)})
        inference, chosen = calibrate(inference, dataset, recipe.val_index, recipe.pipeline)
    threshold = chosen.get("threshold", {}).get("value", 0.5)
    mirrors = recipe.augmenter.mirror_axes()
    metrics = {"val": split_scores(config.task, inference, dataset, recipe.val_index, recipe.pipeline, mirrors,
                                   threshold)}
    test = dataset.indices("test")
    if test.size:
        metrics["test"] = split_scores(config.task, inference, dataset, test, recipe.pipeline, mirrors, threshold)
    card = model_card(config, recipe, dataset, monitor, seconds, metrics, chosen, about,
                      placement.to_dict() | {"resumed_after_epoch": initial})
    emit({"event": "gate", "train": int(recipe.train_index.size), "val": int(recipe.val_index.size)})
    card["gate"] = fit_gate(inference, config.task, recipe.pipeline, [(dataset, recipe.train_index, recipe.val_index)],
                            mirrors)
    stored = save_model(inference, card, out.parent, out.name, overwrite=overwrite)
    if backup is not None:
        backup.remove()
    emit({"event": "end", "ended": monitor.ended, "model": stored.name, "metrics": metrics, "seconds": seconds,
          **chosen})
    return TrainResult(stored, metrics, monitor.history, monitor.ended)
