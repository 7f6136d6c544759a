"""What a run's card records of its trained model: calibration and threshold, metrics per split (out-of-fold for a
cross-validated run) and the out-of-distribution gate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.gate import fit_profile, mask_statistics
from medlib.models.architectures import dense_head, features_model
from medlib.models.predict import predict
from medlib.preprocessing.pipeline import Pipeline
from medlib.scoring.calibration import Calibration, fit_calibration, fold_into
from medlib.scoring.segmentation import foreground, predict_tiled
from medlib.scoring.splits import SplitOutputs, pool, score_outputs, split_outputs
from medlib.scoring.thresholds import STABLE_RULE, stable_threshold
from medlib.store.folders import StoredModel
from medlib.tasks import Task, located_by
from medlib.training.fit import for_inference


def gate_vectors(model: Any, task: Task, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                 mirrors: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:
    """What the gate compares for the images at ``index`` (the task's ``gate_signal``): a classifier's feature
    vectors, or the statistics of a map model's foreground (:func:`medlib.gate.mask_statistics`); the data set's
    own targets are not needed."""
    if task.gate_signal == "features":
        return predict(features_model(model), dataset, index, pipeline)
    return np.stack([mask_statistics(foreground(predict_tiled(model, pipeline.apply(dataset.images[i])[0],
                                                              mirrors=mirrors))) for i in index])


def fit_gate(model: Any, task: Task, pipeline: Pipeline, parts: Sequence[tuple[Dataset, np.ndarray, np.ndarray]],
             mirrors: Sequence[tuple[int, ...]] = ((),)) -> dict[str, Any]:
    """The card's ``gate`` entry: the profile (the task's ``gate_signal``: ``features`` of a classifier, mask
    ``shape`` of a map model) of the training images of ``parts`` (data set, training images, validation images),
    its threshold set on their validation images (:func:`medlib.gate.fit_profile`)."""
    train = np.concatenate([gate_vectors(model, task, d, t, pipeline, mirrors) for d, t, _ in parts])
    val = np.concatenate([gate_vectors(model, task, d, v, pipeline, mirrors) for d, _, v in parts])
    fitted_on = [f"{d.name}: {t.size} training, {v.size} validation images" for d, t, v in parts]
    profile = fit_profile(train, val)
    if profile is None:
        return {"fitted_on": fitted_on, "note": "what the gate compares does not vary on these images: no profile"}
    return {task.gate_signal: profile.to_dict(), "fitted_on": fitted_on}


def classifier_logits(model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline) -> np.ndarray:
    """A classifier's logits (the input of its output activation) for the images at ``index``."""
    kernel, bias = (np.asarray(w) for w in dense_head(model).get_weights())
    return predict(features_model(model), dataset, index, pipeline) @ kernel + bias


def calibrate_classifier(labels: np.ndarray, logits: np.ndarray, where: str) -> tuple[Calibration, dict[str, Any]]:
    """The calibration (:mod:`medlib.scoring.calibration`) of a classifier's validation ``logits``, and what the card
    records
    of it: the calibration and, for two classes, the decision threshold chosen on the same images (``where``)."""
    calibration = fit_calibration(labels, logits)
    chosen: dict[str, Any] = {"calibration": calibration.to_dict() | {"fitted_on": where}}
    if logits.shape[1] == 1:
        value = stable_threshold(labels, calibration.probabilities(logits)[:, 1])
        chosen["threshold"] = {"value": value, "chosen_on": where, "rule": STABLE_RULE}
    return calibration, chosen


def calibrate_locator(outputs: SplitOutputs, where: str) -> dict[str, Any]:
    """A locating model's image-level calibration and threshold, from its validation outputs: the probability that
    an image holds a finding from its best candidate's score (Platt scaling of its logit), and the threshold on it
    (each candidate's score is read on the same scale: the probability were it the image's best). Nothing where
    the validation images do not hold both images with and without findings."""
    holds = outputs.holds()
    if not 0 < holds.sum() < holds.size:
        return {}
    scores = np.clip(outputs.peaks(), 1e-6, 1 - 1e-6)
    logits = np.log(scores / (1 - scores))[:, None]
    calibration = fit_calibration(holds.astype(int), logits)
    value = stable_threshold(holds.astype(int), calibration.probabilities(logits)[:, 1])
    return {"calibration": calibration.to_dict() | {
                "fitted_on": where, "applies_to": "a candidate's score, as the probability that its image holds a "
                                                  "finding were it the image's best candidate"},
            "threshold": {"value": value, "chosen_on": where, "rule": STABLE_RULE,
                          "applies_to": "the calibrated probability of each candidate and of the image"}}


@dataclass
class TrainResult:
    """A finished run: the stored model (``None`` on a worker of a distributed run that is not its chief: the
    chief alone writes the store), its metrics per split, the history and how it ended."""

    stored: StoredModel | None
    metrics: dict[str, dict[str, Any]]
    history: list[dict[str, Any]]
    ended: str


def heat_label(task: Task, dataset: Dataset) -> str:
    """The finding a classifier's heat map locates (its class 1, where the set locates findings of it), else ''."""
    names = task.target_names(dataset)
    return names[1] if located_by(task, dataset, names) == "heat map" else ""


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
    logits = None if plan.task.dense else classifier_logits(model, dataset, plan.val_index, plan.pipeline)
    outputs = split_outputs(plan.task, model, dataset, plan.val_index, plan.pipeline, mirrors,
                            heat_label(plan.task, dataset))
    monitor = run.monitor
    return Fitted(model, [outputs], [logits], monitor.history, monitor.ended, monitor.best_epoch, monitor.kept_epoch)


def judge(plan: Any, dataset: Dataset, fitted: Fitted, emit: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The model to store (a classifier's calibration folded in), what the card records of its calibration and
    threshold, and its metrics: on its validation outputs (out-of-fold for folds, with each fold's own beside),
    and on the test split."""
    task, chosen, calibration = plan.task, {}, None
    val = pool(fitted.parts)
    where = f"{'out-of-fold ' if fitted.folds else ''}val ({val.index.size} images)"
    labels = None if task.dense else dataset.labels[val.index]
    model = fitted.model
    if not task.dense:
        emit({"event": "calibrate", "val": int(val.index.size)})
        calibration, chosen = calibrate_classifier(labels, np.concatenate(fitted.logits), where)
        model = fold_into(model, calibration)
        for part, logits in zip(fitted.parts, fitted.logits, strict=True):
            part.raw = calibration.probabilities(logits)
        val = pool(fitted.parts)
    elif task.from_findings:
        chosen = calibrate_locator(val, where)
    image_calibration = Calibration.from_dict(chosen["calibration"]) if task.dense and chosen else None
    threshold = chosen.get("threshold", {}).get("value", 0.5)
    structures = task.training_set(dataset).structures if task.dense else None

    def scored(outputs: SplitOutputs) -> dict[str, Any]:
        return score_outputs(task, outputs, None if task.dense else dataset.labels[outputs.index], threshold,
                             structures, image_calibration)

    metrics: dict[str, Any] = {"val": scored(val)}
    if fitted.folds:
        metrics["folds"] = [info | {"val": scored(part)} for info, part in zip(fitted.folds, fitted.parts,
                                                                                  strict=True)]
    test = dataset.indices("test")
    if test.size:
        outputs = split_outputs(task, model, dataset, test, plan.pipeline, plan.augmenter.mirror_axes(),
                                heat_label(task, dataset))
        metrics["test"] = scored(outputs)
    return model, chosen, metrics
