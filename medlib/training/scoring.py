"""What a run's card records of its trained model: calibration and threshold, metrics per split (out-of-fold for a
cross-validated run) and the out-of-distribution gate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.gate.profile import fit_profile
from medlib.models.loaded import LoadedModel
from medlib.preprocessing.pipeline import Pipeline
from medlib.scoring.splits import SplitOutputs, pool
from medlib.store.folders import StoredModel, update_card
from medlib.tasks import Task
from medlib.training.fit import for_inference
from medlib.training.plan import validation_split


def fit_gate(model: Any, task: Task, pipeline: Pipeline, parts: Sequence[tuple[Dataset, np.ndarray, np.ndarray]],
             mirrors: Sequence[tuple[int, ...]] = ((),)) -> dict[str, Any]:
    """The card's ``gate`` entry: the profile (the task's ``gate_signal``: ``features`` of a classifier, mask
    ``shape`` of a map model) of the training images of ``parts`` (data set, training images, validation images),
    its threshold set on their validation images (:func:`medlib.gate.profile.fit_profile`)."""
    train = np.concatenate([task.gate_vectors(model, d, t, pipeline, mirrors) for d, t, _ in parts])
    val = np.concatenate([task.gate_vectors(model, d, v, pipeline, mirrors) for d, _, v in parts])
    fitted_on = [f"{d.name}: {t.size} training, {v.size} validation images" for d, t, v in parts]
    profile = fit_profile(train, val)
    if profile is None:
        return {"fitted_on": fitted_on, "note": "what the gate compares does not vary on these images: no profile"}
    return {task.gate_signal: profile.to_dict(), "fitted_on": fitted_on}


def refit_gate(loaded: LoadedModel, datasets: Sequence[Dataset], seed: int = 0) -> StoredModel:
    """A stored model's gate fitted again on the images of ``datasets`` it should accept (each split into
    training and validation images by ``seed`` where it has no split), written into its card."""
    parts = []
    for dataset in datasets:
        train, val, _ = validation_split(dataset, seed=seed)
        parts.append((dataset, train, val))
    return update_card(loaded.stored, gate=fit_gate(loaded.model, loaded.task, loaded.pipeline, parts, loaded.mirrors))


@dataclass
class TrainResult:
    """A finished run: the stored model (``None`` on a worker of a distributed run that is not its chief: the
    chief alone writes the store), its metrics per split, the history and how it ended."""

    stored: StoredModel | None
    metrics: dict[str, dict[str, Any]]
    history: list[dict[str, Any]]
    ended: str


@dataclass
class Fitted:
    """What a run learned, before it is judged: the model to store (the folds' ensemble after cross-validation),
    its validation outputs (out-of-fold after cross-validation: each image predicted by the model that never saw
    it, one part per fold) and a classifier's validation logits alike, its history and how it ended."""

    model: Any
    parts: list[SplitOutputs]
    logits: list[np.ndarray | None]
    history: list[dict[str, Any]]
    ended: str
    best_epoch: int
    kept_epoch: int
    folds: list[dict[str, Any]] = field(default_factory=list)
    """Per fold: its images, epochs kept and how it ended (empty for one model)."""


def fitted_model(run: Any, dataset: Dataset) -> Fitted:
    """The fitted model of one :class:`medlib.training.fit.Run` (without its optimizer) and its validation outputs."""
    plan = run.plan
    model = for_inference(run.model)
    mirrors = plan.augmenter.mirror_axes()
    logits = plan.task.logits(model, dataset, plan.val_index, plan.pipeline)
    outputs = plan.task.outputs(model, dataset, plan.val_index, plan.pipeline, mirrors, plan.task.finding(dataset))
    monitor = run.monitor
    return Fitted(model, [outputs], [logits], monitor.history, monitor.ended, monitor.best_epoch, monitor.kept_epoch)


def judge(plan: Any, dataset: Dataset, fitted: Fitted, emit: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The model to store (a classifier's calibration folded in), what the card records of its calibration and
    threshold, and its metrics: on its validation outputs (out-of-fold for folds, with each fold's own beside),
    and on the test split."""
    task = plan.task
    where = f"{'out-of-fold ' if fitted.folds else ''}val ({sum(p.index.size for p in fitted.parts)} images)"
    model, chosen, image_calibration = task.calibrate(fitted.model, dataset, fitted.parts, fitted.logits, where, emit)
    val = pool(fitted.parts)
    threshold = chosen.get("threshold", {}).get("value", 0.5)
    structures = task.structures(task.target_names(dataset)) or None

    def scored(outputs: SplitOutputs) -> dict[str, Any]:
        return task.score(outputs, task.labels(dataset, outputs.index), threshold, structures, image_calibration)

    metrics: dict[str, Any] = {"val": scored(val)}
    if fitted.folds:
        metrics["folds"] = [info | {"val": scored(part)} for info, part in zip(fitted.folds, fitted.parts,
                                                                                  strict=True)]
    test = dataset.indices("test")
    if test.size:
        outputs = task.outputs(model, dataset, test, plan.pipeline, plan.augmenter.mirror_axes(),
                               task.finding(dataset))
        metrics["test"] = scored(outputs)
    return model, chosen, metrics
