"""Cross-validated training: one model per fold of the training and validation images (grouped by patient,
stratified by what they show), their ensemble stored, judged on their out-of-fold predictions.

A small set's one validation split lies: on 28 JSRT films the epoch it chose scored 0.89 there and 0.57 on films
no model had seen. With folds every image validates once, the calibration and the threshold are fitted on all of
them, and the spread across folds says how much one split can be trusted.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.datasets.partial import labelled_map
from medlib.errors import DatasetError
from medlib.models.ensemble import build_ensemble
from medlib.training.config import Progress, TrainConfig
from medlib.training.distribute import Placement
from medlib.training.fit import Run
from medlib.training.plan import RunPlan
from medlib.training.scoring import Fitted, fitted_model


def fold_numbers(dataset: Dataset, index: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (0..folds-1) of each image at ``index``: a patient's images all in one fold, each fold holding
    about as many of each class (or of images with and without findings, or with and without foreground) where
    some class has an image for every fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    groups = [dataset.groups[i] for i in index] if dataset.groups else [dataset.ids[i] for i in index]
    if len(set(groups)) < folds:
        raise DatasetError(f"{dataset.name} has {len(set(groups))} patients (or images) for {folds} folds; "
                           "set fewer folds")
    if dataset.labels is not None:
        strata = dataset.labels[index]
    elif dataset.findings is not None:
        strata = np.array([bool(dataset.findings[i]) for i in index], int)
    else:
        strata = np.array([bool(labelled_map(dataset.masks[i]).any()) for i in index], int)
    if np.bincount(strata).max() < folds:  # too few of every class to spread over the folds: grouped only
        strata = np.zeros(index.size, int)
    numbers = np.zeros(index.size, int)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(index.size), strata, groups)):
        numbers[held] = fold
    return numbers


def fold_share(config: TrainConfig, started: float, fold: int, folds: int) -> TrainConfig:
    """The config of ``fold`` (0-based) of ``folds`` in a run that started at ``started`` (``perf_counter``): its
    share of what is left of the time budget, so that a fold ended early leaves its time to the next."""
    if not config.max_minutes:
        return config
    left = config.max_minutes - (time.perf_counter() - started) / 60.0
    return dataclasses.replace(config, max_minutes=max(left, 0.1) / (folds - fold))


ENDINGS = ("stopped", "time budget", "early stopping", "completed")
"""How a fold can end (:class:`medlib.training.monitor.Monitor`), the one that speaks for a whole run first."""


def run_ended(ends: Iterable[str]) -> str:
    """How a run of folds ended, from how each fold did: stopped by the user where one was, else cut by the time
    budget, else ended by early stopping, else completed.

    >>> run_ended(["early stopping", "completed"]), run_ended(["early stopping"] * 5)
    ('early stopping', 'early stopping')
    """
    ends = set(ends)
    unknown = ends - set(ENDINGS)
    if unknown or not ends:
        raise ValueError(f"a fold ended in an unknown way: {sorted(unknown) or 'no fold ran'}")
    return next(end for end in ENDINGS if end in ends)


def tagged(emit: Progress, fold: int, folds: int) -> Progress:
    """``emit`` with each event marked as of ``fold`` (0-based) of ``folds``."""
    return lambda event: emit({**event, "fold": fold + 1, "folds": folds})


def cross_validate(config: TrainConfig, plan: RunPlan, dataset: Dataset, placement: Placement, emit: Progress,
                   stop: threading.Event | None) -> Fitted:
    """Fit one model per fold (each on the others, validated on its own; each with its share of what is left of a
    time budget, so that a fold ended early by its validation leaves its time to the next), and their ensemble with
    the pooled out-of-fold outputs. A stop request ends the run after the fold it comes in, with the models fitted
    so far."""
    images = np.sort(np.concatenate([plan.train_index, plan.val_index]))
    numbers = fold_numbers(dataset, images, plan.folds, config.seed)
    started = time.perf_counter()
    members: list[Any] = []
    fitted: list[Fitted] = []
    infos: list[dict[str, Any]] = []
    for fold in range(plan.folds):
        fold_config = fold_share(config, started, fold, plan.folds)
        fold_plan = dataclasses.replace(plan, train_index=images[numbers != fold], val_index=images[numbers == fold],
                                        choices=dict(plan.choices), notes=list(plan.notes))
        fold_plan.count_epochs(fold_config)
        run = Run(fold_config, fold_plan, dataset, placement, tagged(emit, fold, plan.folds), stop)
        run.fit(0, None)
        one = fitted_model(run, dataset)
        members.append(one.model)
        fitted.append(one)
        infos.append({"fold": fold + 1, "train_images": int(fold_plan.train_index.size),
                      "val_images": int(fold_plan.val_index.size), "best_epoch": one.best_epoch,
                      "kept_epoch": one.kept_epoch, "ended": one.ended})
        if one.ended == "stopped":
            break
    ensemble = build_ensemble(members) if len(members) > 1 else members[0]
    history = [{**row, "fold": info["fold"]} for one, info in zip(fitted, infos, strict=True) for row in one.history]
    ended = run_ended(one.ended for one in fitted)
    return Fitted(ensemble, [p for one in fitted for p in one.parts], [lg for one in fitted for lg in one.logits],
                  history, ended, -1, -1, infos)
