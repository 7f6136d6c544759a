"""A training run on volumes, from a set to a stored model: fit (:mod:`medlib.training.volumes`), its figures in mm
on the validation and test volumes, the gate's profile and the card."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from medlib.datasets.volumes import VolumeSet
from medlib.gate.profile import fit_profile
from medlib.models.predict import segment_volume
from medlib.preprocessing.volumes import VolumeSteps
from medlib.scoring.evaluate import volume_split_scores
from medlib.store.card import MODALITIES, ModelCard
from medlib.store.folders import library_versions, save_model
from medlib.tasks.segment import SEGMENT
from medlib.training.config import Progress, TrainConfig
from medlib.training.fit import for_inference
from medlib.training.scoring import TrainResult
from medlib.training.volumes import train_volumes, volume_card_facts


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


def train_on_volumes(config: TrainConfig, volumes: VolumeSet, out: Path, emit: Progress,
                     stop: threading.Event | None, overwrite: bool, about: Mapping[str, Any] | None) -> TrainResult:
    """Train a volume model by ``config`` on ``volumes`` and save it as ``out`` (see :func:`medlib.training.train`)."""
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
                  "batch_size": facts["choices"]["batch size"].value, "init_from": facts["init_from"]},
        gate={"volume": profile.to_dict()} if profile is not None else {"note": "no profile: nothing varies"},
        versions=library_versions(), **about)
    stored = save_model(model, card, out.parent, out.name, overwrite=overwrite)
    emit({"event": "end", "ended": facts["ended"], "model": stored.name, "metrics": metrics,
          "seconds": facts["seconds"]})
    return TrainResult(stored, metrics, facts["history"], facts["ended"])
