"""A training run on volumes, from a set to a stored model: fit (:mod:`medlib.training.volumes`), or one model per
fold of the training and validation volumes and their ensemble (as nnU-Net trains five), its figures in mm on the
validation volumes (out of fold after cross-validation) and the test volumes, the gate's profile and the card."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from medlib.datasets.volumes import VolumeSet
from medlib.errors import DatasetError
from medlib.gate.profile import fit_profile
from medlib.models.ensemble import build_ensemble
from medlib.models.predict import segment_volume
from medlib.preprocessing.volumes import VolumeSteps
from medlib.scoring.evaluate import volume_split_scores
from medlib.scoring.volumes import volume_scores
from medlib.store.card import MODALITIES, ModelCard
from medlib.store.folders import library_versions, save_model
from medlib.tasks.segment import SEGMENT
from medlib.training.config import Progress, TrainConfig
from medlib.training.fit import for_inference
from medlib.training.folds import fold_share, run_ended, tagged
from medlib.training.recipe import Choice
from medlib.training.scoring import TrainResult
from medlib.training.volumes import development, plan_volumes, train_volumes, volume_card_facts


def volume_profile(model: Any, steps: VolumeSteps, image: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """What the gate compares for a volume (canonical orientation): its size in mm, its intensity's spread, and each
    structure's predicted share of it (a model given another body part or modality outlines something else, or
    nothing)."""
    labels = segment_volume(model, steps, image, spacing)
    size = np.array(image.shape) * np.array(spacing)
    low, middle, high = np.percentile(image, [1, 50, 99])
    spread = (high - low) if high > low else 1.0
    shares = [float((labels == k).mean()) for k in range(1, int(model.output_shape[-1]) + 1)]
    return np.array([*size, (middle - low) / spread, *shares], float)


def cross_validate_volumes(config: TrainConfig, volumes: VolumeSet, emit: Progress,
                           stop: threading.Event | None) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """One model per fold of the training and validation volumes (each trained on the others with the one
    preprocessing planned from all of them, with its share of what is left of a time budget), their ensemble, what
    the card records, and the out-of-fold figures: each volume answered by the model that never saw it, and each
    fold's own. A stop request ends the run after the fold it comes in."""
    from sklearn.model_selection import KFold

    train, val = development(volumes)
    images = np.sort(np.concatenate([train, val]))
    if images.size < config.folds:
        raise DatasetError(f"{volumes.name} has {images.size} labelled volumes for {config.folds} folds; set fewer")
    planned = plan_volumes(volumes, images)
    splitter = KFold(config.folds, shuffle=True, random_state=config.seed)
    started, members, facts, infos, answers = time.perf_counter(), [], [], [], []
    for fold, (rest, held) in enumerate(splitter.split(images)):
        fitted, one = train_volumes(fold_share(config, started, fold, config.folds), volumes,
                                    tagged(emit, fold, config.folds), stop, (images[rest], images[held]), planned)
        members.append(for_inference(fitted))
        chosen = [volumes.volumes[i] for i in images[held]]
        answers.append((chosen, [segment_volume(members[-1], planned[0], v.image, v.spacing) for v in chosen]))
        facts.append(one)
        infos.append({"fold": fold + 1, "train_images": int(rest.size), "val_images": int(held.size),
                      "kept_epoch": one["kept_epoch"], "ended": one["ended"]})
        if one["ended"] == "stopped":
            break

    def scored(pairs: list[tuple[list[Any], list[np.ndarray]]]) -> dict[str, Any]:
        chosen = [v for part, _ in pairs for v in part]
        return volume_scores([v.labels for v in chosen], [p for _, found in pairs for p in found],
                             [v.spacing for v in chosen], volumes.structures)

    metrics = {"val": scored(answers), "folds": [info | {"val": scored([part])} for info, part in
                                                 zip(infos, answers, strict=True)]}
    joined = facts[0] | {
        "history": [{**row, "fold": info["fold"]} for one, info in zip(facts, infos, strict=True)
                    for row in one["history"]],
        "ended": run_ended(one["ended"] for one in facts),
        "kept_epoch": -1, "folds": infos, "seconds": round(time.perf_counter() - started, 1), "train": train,
        "val": val}
    joined["choices"] = facts[0]["choices"] | {"folds": Choice(config.folds, "set", False)}
    return build_ensemble(members) if len(members) > 1 else members[0], joined, metrics


def train_on_volumes(config: TrainConfig, volumes: VolumeSet, out: Path, emit: Progress,
                     stop: threading.Event | None, overwrite: bool, about: Mapping[str, Any] | None) -> TrainResult:
    """Train a volume model by ``config`` on ``volumes`` (``config.folds`` above 1: one per fold, and their
    ensemble) and save it as ``out`` (see :func:`medlib.training.train`)."""
    if config.folds > 1:
        model, facts, metrics = cross_validate_volumes(config, volumes, emit, stop)
        steps = facts["steps"]
    else:
        fitted, facts = train_volumes(config, volumes, emit, stop)
        model, steps = for_inference(fitted), facts["steps"]
        metrics = {"val": volume_split_scores(model, steps, volumes, facts["val"])}
    test = np.flatnonzero(volumes.split == "test")
    if test.size:
        metrics["test"] = volume_split_scores(model, steps, volumes, test)
    emit({"event": "gate", "train": int(facts["train"].size), "val": int(facts["val"].size)})
    vectors = {name: np.stack([volume_profile(model, steps, volumes.volumes[i].image, volumes.volumes[i].spacing)
                               for i in facts[name]]) for name in ("train", "val")}
    profile = fit_profile(vectors["train"], vectors["val"])
    about = dict(about or {})
    modality = about.pop("modality", None) or next(  # the card's facts as given, else the set's own modality
        (m for m in MODALITIES if m.lower() == volumes.modality.strip().lower()), "")
    card = ModelCard(
        task=SEGMENT.name, architecture="unet", input_shape=[*steps.patch, 1],
        class_names=["background", *volumes.structures], preprocess=steps.to_dict(), modality=modality,
        config=config.to_dict(), recipe={name: c.to_dict() for name, c in facts["choices"].items()},
        dataset=volume_card_facts(volumes, facts), metrics=metrics, history=facts["history"],
        training={"ended": facts["ended"], "kept_epoch": facts["kept_epoch"], "seconds": facts["seconds"],
                  "batch_size": facts["choices"]["batch size"].value, "init_from": facts["init_from"],
                  "folds": facts.get("folds", [])},
        gate={"volume": profile.to_dict()} if profile is not None else {"note": "no profile: nothing varies"},
        versions=library_versions(), **about)
    stored = save_model(model, card, out.parent, out.name, overwrite=overwrite)
    emit({"event": "end", "ended": facts["ended"], "model": stored.name, "metrics": metrics,
          "seconds": facts["seconds"]})
    return TrainResult(stored, metrics, facts["history"], facts["ended"])
