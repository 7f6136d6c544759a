"""What a run's card records of its trained model: metrics per split, calibration and the out-of-distribution gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medlib.calibration import fit_calibration, fold_into
from medlib.datasets import Dataset
from medlib.gate import fit_profile, mask_statistics
from medlib.models import dense_head, features_model
from medlib.prediction import predict
from medlib.preprocess import Pipeline
from medlib.segmentation import foreground, predict_tiled
from medlib.tasks import Task
from medlib.thresholds import youden_threshold


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


def calibrate(model: Any, dataset: Dataset, val: np.ndarray, pipeline: Pipeline) -> tuple[Any, dict[str, Any]]:
    """The model with calibrated outputs (:mod:`medlib.calibration`, fitted on the ``val`` images), and what the card
    records of it: the calibration and, for two classes, the decision threshold chosen on the same images."""
    head = dense_head(model)
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    logits = predict(features_model(model), dataset, val, pipeline) @ kernel + bias
    labels = dataset.labels[val]
    calibration = fit_calibration(labels, logits)
    chosen: dict[str, Any] = {"calibration": calibration.to_dict() | {"fitted_on": f"val ({val.size} images)"}}
    if logits.shape[1] == 1:
        value = youden_threshold(labels, calibration.probabilities(logits)[:, 1])
        chosen["threshold"] = {"value": value, "chosen_on": f"val ({val.size} images)",
                               "rule": "Youden's J (sensitivity + specificity - 1) at its best, the middle one of the "
                                       "cuts between scores that reach it"}
    return fold_into(model, calibration), chosen


