"""A training run: its plan, the model, the fit with its monitor, and the card saved with the model."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medlib.datasets import Dataset, VolumeSet, load_or_cache
from medlib.datasets.combine import load_joined
from medlib.datasets.nodule_sets import prepare_simulation
from medlib.scoring.plausibility import structure_ranges
from medlib.spec import SpecError
from medlib.store.card import SYNTHETIC_USE, ModelCard
from medlib.store.folders import library_versions, save_model
from medlib.targets import ONE_STRUCTURE
from medlib.tasks import AUTO, default_task, task_for
from medlib.training.config import ABOUT_KEYS, Progress, TrainConfig
from medlib.training.distribute import Placement, global_batch, place
from medlib.training.fit import Run
from medlib.training.folds import cross_validate
from medlib.training.optimisation import fit_to_budget
from medlib.training.plan import RunPlan, resolve
from medlib.training.recipe import Choice
from medlib.training.resume import Backup, agreed_epoch
from medlib.training.scoring import Fitted, TrainResult, fit_gate, fitted_model, judge
from medlib.training.volume_run import train_on_volumes


def model_card(config: TrainConfig, plan: RunPlan, dataset: Dataset, fitted: Fitted, seconds: float,
               metrics: dict[str, dict[str, Any]], chosen: dict[str, Any], about: Mapping[str, Any] | None = None,
               placement: Mapping[str, Any] | None = None, initialised: dict[str, Any] | None = None) -> ModelCard:
    """The card of a trained model (all but its gate): what it is, how it was trained and on what, its metrics per
    split, its calibration, and the ``about`` facts (a ``target`` names a map model's one unnamed structure)."""
    about = dict(about or {})
    names = plan.task.target_names(dataset)
    if plan.task.structures(names) == [ONE_STRUCTURE] and "target" in about:
        names = ["background", str(about["target"])]
    about.pop("target", None)
    if dataset.synthetic:
        about = {"intended_use": SYNTHETIC_USE, "modality": "X-ray radiograph", "body_part": "chest",
                 "population": "synthetic films (phantoms)"} | about
    structures = plan.task.structures(names)
    ranges = structure_ranges(dataset.masks[plan.train_index], structures) \
        if len(structures) > 1 and dataset.masks is not None else {}
    return ModelCard(
        task=config.task, architecture=plan.model, input_shape=list(plan.input_shape), class_names=names,
        structure_ranges=ranges,
        positive_class=plan.task.positive_class(names), located_by=plan.task.located_by(dataset, names),
        config=config.to_dict(), recipe={name: choice.to_dict() for name, choice in plan.choices.items()},
        preprocess=plan.pipeline.to_dict(), augment=plan.augmenter.to_dict(),
        dataset={"name": dataset.name, "fingerprint": dataset.fingerprint, "synthetic": dataset.synthetic,
                 "image_size": list(dataset.image_size), "fit": dataset.fit, "dtype": str(dataset.images.dtype),
                 "spacing": None if dataset.spacing is None else [round(float(v), 4) for v in dataset.spacing],
                 "channels": dataset.channels, "counts": dataset.counts()},
        calibration=chosen.get("calibration"), threshold=chosen.get("threshold"), metrics=metrics,
        history=fitted.history,
        training={"ended": fitted.ended, "best_epoch": fitted.best_epoch, "kept_epoch": fitted.kept_epoch,
                  "seconds": round(seconds, 1), "batch_size": plan.batch_size, "class_weight": plan.class_weight,
                  "notes": plan.notes, "folds": fitted.folds, "init_from": initialised, **(placement or {})},
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


def _training_data(config: TrainConfig, cache: Path | None, emit: Progress) -> Dataset | VolumeSet:
    """The data set of ``config`` (joined by its ``also`` sets), written as a cache first where it is too large for
    memory."""
    def report(done: int, total: int, folder: Path) -> None:
        emit({"event": "cache", "written": done, "total": total, "folder": str(folder)})

    if config.also:
        return load_joined(config.data, config.also, seed=config.seed, fit=config.fit)
    return load_or_cache(config.data, seed=config.seed, fit=config.fit, cache=cache, report=report)


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
    if isinstance(dataset, VolumeSet):
        return train_on_volumes(config, dataset, out, emit, stop, overwrite, about)
    simulation = prepare_simulation(config.nodules, dataset, config.nodule_share) if config.nodules else None
    config, plan, dataset = plan_run(config, dataset)
    plan.simulation = simulation
    config = _replicate(plan, config, placement)
    if plan.folds > 1 and (resume or placement.workers > 1):
        raise SpecError("folds are trained one after another by one process: drop --resume and the multi-worker "
                        "strategy, or set --folds 1")
    started = time.perf_counter()
    if plan.folds > 1:
        fitted, initial, initialised = cross_validate(config, plan, dataset, placement, emit, stop), 0, None
    else:
        fitted, initial, initialised = _fit_one(config, plan, dataset, placement, emit, stop, out, resume)
    seconds = time.perf_counter() - started
    if fitted is None:  # a worker of a distributed run that is not the chief
        return TrainResult(None, {}, [], "completed")
    inference, chosen, metrics = judge(plan, dataset, fitted, emit)
    card = model_card(config, plan, dataset, fitted, seconds, metrics, chosen, about,
                      placement.to_dict() | {"resumed_after_epoch": initial}, initialised)
    emit({"event": "gate", "train": int(plan.train_index.size), "val": int(plan.val_index.size)})
    card.gate = fit_gate(inference, plan.task, plan.pipeline, [(dataset, plan.train_index, plan.val_index)],
                         plan.augmenter.mirror_axes())
    stored = save_model(inference, card, out.parent, out.name, overwrite=overwrite)
    if resume:
        Backup(out.parent / f".backup-{out.name}", placement.index).remove()
    emit({"event": "end", "ended": fitted.ended, "model": stored.name, "metrics": metrics, "seconds": seconds,
          **chosen})
    return TrainResult(stored, metrics, fitted.history, fitted.ended)


def _fit_one(config: TrainConfig, plan: RunPlan, dataset: Dataset, placement: Placement, emit: Progress,
             stop: threading.Event | None, out: Path, resume: bool) -> tuple[Fitted | None, int, Any]:
    """One model fitted on the plan's split (going on from its backup where ``resume``); ``None`` on a worker of a
    distributed run that is not the chief, with the epoch it resumed after and the card's ``init_from``."""
    run = Run(config, plan, dataset, placement, emit, stop)
    backup = Backup(out.parent / f".backup-{out.name}", placement.index) if resume else None
    initial = agreed_epoch(placement, backup) if backup is not None else 0
    if initial:
        backup.restore(run.model, run.monitor, initial)
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = out.parent / f".checkpoint-{out.name}-{os.getpid()}-{threading.get_ident()}.weights.h5"
    run.monitor.checkpoint = checkpoint
    try:
        run.fit(initial, backup)
    finally:
        checkpoint.unlink(missing_ok=True)
    if not placement.chief:
        if backup is not None:
            backup.remove()
        emit({"event": "end", "ended": run.monitor.ended, "model": None, "metrics": {}})
        return None, initial, None
    return fitted_model(run, dataset), initial, run.initialised


def plan_run(config: TrainConfig, dataset: Dataset) -> tuple[TrainConfig, RunPlan, Dataset]:
    """The run ``config`` asks for on ``dataset``, as it will train: the config with its task, the plan with every
    choice derived from the data and, in a timed run, fitted to the speed measured on this machine (folds, batch,
    width), and the data set as the task trains on it."""
    config, why = _with_task(config, dataset)
    dataset = task_for(config.task).training_set(dataset)
    plan = resolve(config, dataset)
    plan.choices = {"task": Choice(config.task, why or "set", why is not None)} | plan.choices
    fit_to_budget(plan, config)
    return config, plan, dataset


def _with_task(config: TrainConfig, dataset: Dataset) -> tuple[TrainConfig, str | None]:
    """The config with its task, derived from the data where it is ``auto`` (and why), else as set."""
    if config.task != AUTO:
        return config, None
    task, why = default_task(dataset)
    if config.model != AUTO and not task.takes(config.model):
        raise SpecError(f"{dataset.name} trains {task.title} by default, which model {config.model!r} cannot do: "
                        "set --task, or the model to auto")
    return dataclasses.replace(config, task=task.name), why


def _check_request(config: TrainConfig, strategy: str, about: Mapping[str, Any] | None) -> None:
    """Refuse what a run cannot do before any work: a time limit on several workers, unknown card facts."""
    if strategy == "multiworker" and config.max_minutes:
        raise SpecError("a multi-worker run is set by its steps, not a time limit (the workers' clocks would "
                        "disagree on when to stop): drop --max-minutes, and set --epochs if the default is too long")
    unknown = sorted(set(about or {}) - set(ABOUT_KEYS))
    if unknown:
        raise SpecError(f"the card facts hold unknown key(s) {unknown}; known: {', '.join(ABOUT_KEYS)}")
