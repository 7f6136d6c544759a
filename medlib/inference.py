"""Using a stored model: its preprocessing from the card, predictions, and metrics on a data set split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medlib.datasets import Dataset
from medlib.models import ModelError
from medlib.preprocess import Pipeline, load_pipeline, make_pipeline
from medlib.store import StoredModel, get_model, load_model
from medlib.training import evaluate_outputs, predict


@dataclass
class LoadedModel:
    """A Keras model with its card and the preprocessing recorded in that card."""

    stored: StoredModel
    model: Any
    pipeline: Pipeline

    @property
    def card(self) -> dict[str, Any]:
        return self.stored.card

    @property
    def task(self) -> str:
        return str(self.card.get("task", "classify"))

    @property
    def class_names(self) -> list[str]:
        return list(self.card.get("class_names", []))


def card_pipeline(card: dict[str, Any], input_shape: tuple[int, ...]) -> Pipeline:
    """The card's preprocessing; for a card without one, a resize to the model's input and a window."""
    if card.get("preprocess"):
        return load_pipeline(card["preprocess"])
    height, width = input_shape[:2]
    return make_pipeline(("resize", {"height": height, "width": width, "mode": "stretch"}), "window")


def open_model(path: str | Path) -> LoadedModel:
    """Load a store folder (``models/NAME``) with safe-mode Keras, checked against its card."""
    path = Path(path)
    stored = get_model(path.name, path.parent)
    model = load_model(stored)
    return LoadedModel(stored, model, card_pipeline(stored.card, tuple(model.input_shape[1:])))


def check_fit(loaded: LoadedModel, dataset: Dataset) -> None:
    """Refuse a data set the model cannot take: wrong task, class count or input shape."""
    if loaded.task == "classify":
        if dataset.labels is None:
            raise ModelError(f"{loaded.stored.name} is a classifier but {dataset.name} has no class labels")
        if len(dataset.class_names) != len(loaded.class_names):
            raise ModelError(
                f"{loaded.stored.name} knows {len(loaded.class_names)} classes {loaded.class_names}, "
                f"but {dataset.name} has {len(dataset.class_names)} {dataset.class_names}"
            )
    elif dataset.masks is None:
        raise ModelError(f"{loaded.stored.name} is a segmenter but {dataset.name} has no masks")
    sample, _ = loaded.pipeline.apply(dataset.images[0])
    expected = tuple(int(v) for v in loaded.model.input_shape[1:])
    if sample.shape != expected:
        raise ModelError(
            f"{loaded.stored.name} takes {expected} inputs, but its preprocessing makes {sample.shape} "
            f"from {dataset.name}'s images ({dataset.channels} channel(s)); "
            "use a data set like the one it was trained on"
        )


def evaluate_split(loaded: LoadedModel, dataset: Dataset, split: str = "test") -> dict[str, Any]:
    """Metrics of a stored model on one split of a data set."""
    check_fit(loaded, dataset)
    index = dataset.indices(split)
    if index.size == 0:
        raise ModelError(f"the {split} split of {dataset.name} is empty; choose another split")
    outputs = predict(loaded.model, dataset, index, loaded.pipeline)
    return {"model": loaded.stored.name, "split": split, **evaluate_outputs(loaded.task, dataset, index, outputs,
                                                                            loaded.pipeline)}  # fmt: skip
