"""Training a model again on a person's labelled set, starting from its own weights, and what it bought: its
figures before and after on the images of the set held back from that run (the set's ``test`` split)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medlib.datasets.dataset import Dataset
from medlib.errors import DatasetError
from medlib.models.loaded import LoadedModel
from medlib.scoring.evaluate import evaluate_split
from medlib.store.folders import StoredModel
from medlib.training import TrainConfig

MIN_TRAINING, MIN_HELD_BACK = 4, 1
"""The fewest saved images a run needs to learn from, and to be judged on (held back)."""
FINE_TUNING = 0.1
"""The share of the usual peak learning rate a run that starts from a trained model uses."""
MINUTES = 5.0
"""A run's default time limit: split over folds where the set is small (the recipe's rule)."""


def check_retrainable(dataset: Dataset) -> None:
    """Raise, saying what is missing, where the labelled set has too few images to learn from or to judge on."""
    training, held = len(dataset.indices("train")) + len(dataset.indices("val")), len(dataset.indices("test"))
    if training < MIN_TRAINING or held < MIN_HELD_BACK:
        raise DatasetError(f"the set has {training} image(s) to learn from and {held} held back; a run needs at "
                           f"least {MIN_TRAINING} and {MIN_HELD_BACK} (about one saved image in five is held back): "
                           "label more images")


def retrain_config(model: StoredModel, data: Path, minutes: float = MINUTES, seed: int = 0) -> TrainConfig:
    """The run that trains ``model`` again on the labelled set in ``data``: its task, starting from its weights
    (``init_from``) at :data:`FINE_TUNING` of the usual peak learning rate (what it learned is moved, not
    overwritten, by a few images), with the recipe derived from the set (folds where it is small) under a time
    limit."""
    rate = TrainConfig(data=str(data)).learning_rate * FINE_TUNING
    return TrainConfig(data=str(data), task=model.card.task, init_from=str(model.path), max_minutes=minutes,
                       learning_rate=rate, seed=seed)


def before_after(before: LoadedModel, after: LoadedModel, dataset: Dataset, seed: int = 0) -> list[dict[str, Any]]:
    """Each figure both models report on the set's held-back images, with its 95% interval: ``figure``, ``before``
    and ``after`` as (value, low, high), and ``n`` the images."""
    old, new = (evaluate_split(model, dataset, "test", seed) for model in (before, after))
    return [{"figure": name, "before": (old[name], *old[f"{name}_ci"]), "after": (new[name], *new[f"{name}_ci"]),
             "n": new.get(f"{name}_n", new.get("n"))}
            for name in old if f"{name}_ci" in old and f"{name}_ci" in new and old[f"{name}_ci"] is not None]
