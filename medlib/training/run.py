"""A training run: its plan, the model, the fit with its monitor, and the card saved with the model."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medlib.card import SYNTHETIC_USE, ModelCard
from medlib.datasets import Dataset, load_or_cache
from medlib.errors import MedlibError
from medlib.models import ModelError, bn_momentum_for, build_model
from medlib.recipe import Choice
from medlib.scores import task_scores
from medlib.spec import SpecError
from medlib.store import StoredModel, library_versions, save_model
from medlib.targets import ONE_STRUCTURE
from medlib.tasks import task_for
from medlib.training.config import ABOUT_KEYS, Progress, TrainConfig
from medlib.training.distribute import ClusterError, Placement, fit_replicated, global_batch, place
from medlib.training.inputs import Augment, make_inputs, mix_batches, weigh_batches
from medlib.training.optimisation import fit_to_budget, optimizer_for
from medlib.training.plan import RunPlan, resolve
from medlib.training.resume import Backup, agreed_epoch
from medlib.training.scoring import calibrate, fit_gate


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


def model_card(config: TrainConfig, plan: RunPlan, dataset: Dataset, monitor: Any, seconds: float,
               metrics: dict[str, dict[str, Any]], chosen: dict[str, Any],
               about: Mapping[str, Any] | None = None, placement: Mapping[str, Any] | None = None) -> ModelCard:
    """The card of a trained model (all but its gate): what it is, how it was trained and on what, its metrics per
    split, its calibration, and the ``about`` facts (a ``target`` names a map model's one unnamed structure)."""
    about = dict(about or {})
    names = plan.task.target_names(dataset)
    if plan.task.dense and names[1:] == [ONE_STRUCTURE] and "target" in about:
        names = ["background", str(about["target"])]
    about.pop("target", None)
    if dataset.synthetic:
        about = {"intended_use": SYNTHETIC_USE, "modality": "X-ray radiograph", "body_part": "chest",
                 "population": "synthetic films (phantoms)"} | about
    return ModelCard(
        task=config.task, architecture=plan.model, input_shape=list(plan.input_shape), class_names=names,
        positive_class=names[1] if not plan.task.dense and len(names) == 2 else "",
        config=config.to_dict(), recipe={name: choice.to_dict() for name, choice in plan.choices.items()},
        preprocess=plan.pipeline.to_dict(), augment=plan.augmenter.to_dict(),
        dataset={"name": dataset.name, "fingerprint": dataset.fingerprint, "synthetic": dataset.synthetic,
                 "image_size": list(dataset.image_size), "fit": dataset.fit, "dtype": str(dataset.images.dtype),
                 "channels": dataset.channels, "counts": dataset.counts()},
        calibration=chosen.get("calibration"), threshold=chosen.get("threshold"), metrics=metrics,
        history=monitor.history,
        training={"ended": monitor.ended, "best_epoch": monitor.best_epoch, "kept_epoch": monitor.kept_epoch,
                  "seconds": round(seconds, 1), "batch_size": plan.batch_size, "class_weight": plan.class_weight,
                  "notes": plan.notes, **(placement or {})},
        versions=library_versions(), **about)


def _replicate(plan: RunPlan, config: TrainConfig, placement: Placement) -> TrainConfig:
    """Split the plan's batch over the placement's replicas (rounded up, the learning rate following it);
    the config with the rate the run uses."""
    if placement.replicas == 1:
        return config
    batch, rate, why = global_batch(plan.batch_size, placement.replicas, config.learning_rate)
    plan.choices["replicas"] = Choice(placement.replicas, f"{placement.name}: each step's batch of {batch} is "
                                        f"split into {batch // placement.replicas} per replica")
    if why is None:
        return config
    plan.batch_size = batch
    plan.choices["batch size"] = Choice(batch, why, plan.choices["batch size"].derived)
    plan.count_epochs(config)
    return dataclasses.replace(config, learning_rate=rate)


_LOST_WORKER = ("UnavailableError", "AbortedError", "DeadlineExceededError", "CancelledError")


def _training_data(config: TrainConfig, cache: Path | None, emit: Progress) -> Dataset:
    """The data set of ``config``, written as a cache first where it is too large for memory."""
    def report(done: int, total: int, folder: Path) -> None:
        emit({"event": "cache", "written": done, "total": total, "folder": str(folder)})

    return load_or_cache(config.data, "training", seed=config.seed, fit=config.fit, cache=cache, report=report)


def train(config: TrainConfig, out: Path, dataset: Dataset | None = None, progress: Progress | None = None,
          stop: threading.Event | None = None, overwrite: bool = False,
          about: Mapping[str, Any] | None = None, strategy: str = "one", resume: bool | None = None,
          cache: Path | None = None) -> TrainResult:
    """Train a model by ``config`` and save it as ``out`` (a folder in the model store).

    ``progress`` receives events (``cache``, ``start``, ``batch``, ``epoch``, ``calibrate``, ``gate``, ``end``);
    setting ``stop`` ends training within one batch and saves the model kept so far.
    A classifier is calibrated on the validation split and, with two classes, given the decision threshold
    chosen there (:func:`calibrate`). ``about`` adds facts to the card (see :data:`ABOUT_KEYS`). A folder or
    ZIP too large for memory is first written as a cache (to ``cache``, by default beside it), with ``cache``
    events, and trained from disk.

    ``strategy`` is where it trains (:data:`medlib.training.distribute.STRATEGIES`): under ``multiworker`` every
    worker runs this same call and only the chief (worker 0) writes the store. With ``resume`` (the default
    under ``multiworker``) the state is kept after each epoch beside ``out``, and a run started again goes on
    from the latest epoch it finished.
    """
    _check_request(config, strategy, about)
    placement = place(strategy)  # first: a multi-worker strategy must exist before any other TensorFlow work
    emit = progress or (lambda event: None)
    resume = placement.name == "multiworker" if resume is None else resume
    dataset = dataset if dataset is not None else _training_data(config, cache, emit)
    dataset = task_for(config.task).training_set(dataset)
    plan = resolve(config, dataset)
    fit_to_budget(plan, config)
    config = _replicate(plan, config, placement)
    run = _Run(config, plan, dataset, placement, emit, stop)
    backup = Backup(out.parent / f".backup-{out.name}", placement.index) if resume else None
    initial = agreed_epoch(placement, backup) if backup is not None else 0
    if initial:
        backup.restore(run.model, run.monitor, initial)
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = out.parent / f".checkpoint-{out.name}-{os.getpid()}-{threading.get_ident()}.weights.h5"
    run.monitor.checkpoint = checkpoint
    emit({"event": "start", "model": plan.model, "task": plan.task.name, "input_shape": list(plan.input_shape),
          "train": int(plan.train_index.size), "val": int(plan.val_index.size), "batch_size": plan.batch_size,
          "epochs": plan.epochs, "notes": plan.notes, "parameters": int(run.model.count_params()),
          "recipe": {name: choice.to_dict() for name, choice in plan.choices.items()},
          **placement.to_dict(), "resumed_after_epoch": initial})
    started = time.perf_counter()
    try:
        run.fit(initial, backup)
    finally:
        checkpoint.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    if not placement.chief:
        if backup is not None:
            backup.remove()
        emit({"event": "end", "ended": run.monitor.ended, "model": None, "metrics": {}, "seconds": seconds})
        return TrainResult(None, {}, run.monitor.history, run.monitor.ended)
    inference, card = run.judge(seconds, about, placement.to_dict() | {"resumed_after_epoch": initial})
    stored = save_model(inference, card, out.parent, out.name, overwrite=overwrite)
    if backup is not None:
        backup.remove()
    emit({"event": "end", "ended": run.monitor.ended, "model": stored.name, "metrics": card.metrics,
          "seconds": seconds, **{k: v for k, v in (("calibration", card.calibration), ("threshold", card.threshold))
                                 if v is not None}})
    return TrainResult(stored, card.metrics, run.monitor.history, run.monitor.ended)


def _check_request(config: TrainConfig, strategy: str, about: Mapping[str, Any] | None) -> None:
    """Refuse what a run cannot do before any work: a time limit on several workers, unknown card facts."""
    if strategy == "multiworker" and config.max_minutes:
        raise SpecError("a multi-worker run is set by its steps, not a time limit (the workers' clocks would "
                        "disagree on when to stop): drop --max-minutes, and set --epochs if the default is too long")
    unknown = sorted(set(about or {}) - set(ABOUT_KEYS))
    if unknown:
        raise SpecError(f"the card facts hold unknown key(s) {unknown}; known: {', '.join(ABOUT_KEYS)}")


class _Run:
    """One run's model, inputs and monitor, built from its plan: it fits, then judges what it learned."""

    def __init__(self, config: TrainConfig, plan: RunPlan, dataset: Dataset, placement: Placement,
                 emit: Progress, stop: threading.Event | None) -> None:
        import keras
        import tensorflow as tf

        from medlib.training.monitor import Monitor

        self.config, self.plan, self.dataset, self.placement, self.emit = config, plan, dataset, placement, emit
        keras.utils.set_random_seed(config.seed)
        self.mixup = not plan.task.dense and config.mixup > 0
        self.mixing = tf.Variable(True, trainable=False, name="mixing") if self.mixup else None
        with placement.strategy.scope():
            self.model = build_model(plan.model, plan.input_shape, plan.num_classes,
                                     bn_momentum_for(plan.steps_per_epoch), plan.width)
            loss = plan.task.loss_function(plan.num_classes, config.label_smoothing, soft_targets=self.mixup)
            self.model.compile(optimizer=optimizer_for(config), loss=loss)
            self.model.optimizer.build(self.model.trainable_variables)
        self.augment = Augment(plan.augmenter, plan.input_shape, config.seed)
        val_inputs = None if plan.task.dense else make_inputs(dataset, plan.val_index, plan, config.seed)
        self.monitor = Monitor(config, plan, dataset, val_inputs, self.augment, emit, stop, None, self.mixing)

    def batches(self, index: Any, batch: int | None = None) -> Any:
        """Shuffled, augmented training batches of the images at ``index`` (blended where mixup is on)."""
        plan, config = self.plan, self.config
        batches = make_inputs(self.dataset, index, plan, config.seed, self.augment, shuffle=True, batch=batch)
        if self.mixup:  # the class weights travel with the blended samples
            return mix_batches(batches, plan.num_classes, config.mixup, plan.class_weight, config.seed, self.mixing)
        return batches

    def fit(self, initial: int, backup: Backup | None) -> None:
        """Train from epoch ``initial``; a failure inside TensorFlow says which step and with what input."""
        from medlib.training.monitor import SaveEachEpoch

        plan, placement, model = self.plan, self.placement, self.model
        callbacks = [self.monitor] + ([SaveEachEpoch(backup, self.monitor)] if backup is not None else [])
        try:
            if placement.workers > 1:
                self.monitor.scorer = _for_inference(model)

                def worker_batches(context):
                    share = plan.train_index[context.input_pipeline_id :: context.num_input_pipelines]
                    batches = self.batches(share, context.get_per_replica_batch_size(plan.batch_size))
                    weighed = batches if self.mixup else weigh_batches(batches, plan.class_weight, plan.num_classes)
                    return weighed.repeat()

                fit_replicated(model, placement, worker_batches, plan.epochs, plan.steps_per_epoch, callbacks,
                               initial, self.monitor.scorer)
            else:
                model.fit(self.batches(plan.train_index), epochs=plan.epochs, initial_epoch=initial, verbose=0,
                          callbacks=callbacks, class_weight=None if self.mixup else plan.class_weight)
        except MedlibError:
            raise
        except Exception as exc:
            if placement.workers > 1 and type(exc).__name__ in _LOST_WORKER:
                done = backup.epochs()[-1] if backup is not None and backup.epochs() else 0
                raise ClusterError(f"a worker of the run was lost ({_root_cause(exc)}); start every worker again "
                                   f"with the same command: the run goes on after epoch {done}") from exc
            raise ModelError(f"training failed: {_root_cause(exc)}") from exc

    def judge(self, seconds: float, about: Mapping[str, Any] | None,
              placement: Mapping[str, Any]) -> tuple[Any, ModelCard]:
        """The model to store (calibrated, for a classifier) and its card: metrics per split and the gate."""
        plan, dataset = self.plan, self.dataset
        inference, chosen = _for_inference(self.model), {}
        if not plan.task.dense:
            self.emit({"event": "calibrate", "val": int(plan.val_index.size)})
            inference, chosen = calibrate(inference, dataset, plan.val_index, plan.pipeline)
        threshold = chosen.get("threshold", {}).get("value", 0.5)
        mirrors = plan.augmenter.mirror_axes()
        splits = {"val": plan.val_index, "test": dataset.indices("test")}
        metrics = {name: task_scores(plan.task, inference, dataset, index, plan.pipeline, mirrors, threshold)
                   for name, index in splits.items() if index.size}
        card = model_card(self.config, plan, dataset, self.monitor, seconds, metrics, chosen, about, placement)
        self.emit({"event": "gate", "train": int(plan.train_index.size), "val": int(plan.val_index.size)})
        card.gate = fit_gate(inference, plan.task, plan.pipeline, [(dataset, plan.train_index, plan.val_index)],
                             mirrors)
        return inference, card
