"""A stored model judged on a split of a data set (``medlib evaluate``, the Evaluation page): its outputs by its
task, scored with 95% bootstrap intervals; a volume model in mm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medlib.datasets import Dataset, VolumeSet
from medlib.models.architectures import ModelError
from medlib.models.loaded import LoadedModel, check_fit
from medlib.models.predict import predict, segment_volume
from medlib.preprocessing.volumes import VolumeSteps
from medlib.scoring.splits import SplitOutputs
from medlib.scoring.volumes import volume_scores


def split_index(dataset: Dataset, split: str) -> np.ndarray:
    """The images of one split (``all``: every image); an empty split is an error that names the others."""
    if split == "all":
        return np.arange(len(dataset))
    index = dataset.indices(split)
    if index.size == 0:
        others = [s for s in ("train", "val", "test") if dataset.indices(s).size]
        raise ModelError(f"the {split} split of {dataset.name} is empty; choose another split ({', '.join(others)})")
    return index


def predict_split(loaded: LoadedModel, dataset: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's image indices and the model's outputs for them, after a fit check."""
    check_fit(loaded, dataset)
    index = split_index(dataset, split)
    return index, predict(loaded.model, dataset, index, loaded.pipeline)


def model_labels(class_names: list[str], dataset: Dataset) -> np.ndarray:
    """The data set's labels as indices into a model's ``class_names``: classes named alike (in any case) are
    matched by name, whatever their order; otherwise they are taken in order."""
    mine = [name.lower() for name in class_names]
    theirs = [name.lower() for name in dataset.class_names]
    if sorted(mine) != sorted(theirs) or mine == theirs:
        return dataset.labels
    return np.array([mine.index(name) for name in theirs])[dataset.labels]


def split_outputs(loaded: LoadedModel, dataset: Dataset, index: np.ndarray) -> SplitOutputs:
    """The model's outputs on the images at ``index`` of ``dataset`` (its task's, with its mirror views and, for a
    heat-map classifier, the candidates of its finding)."""
    return loaded.task.outputs(loaded.model, dataset, index, loaded.pipeline, loaded.mirrors, loaded.card.finding)


def score_outputs(loaded: LoadedModel, dataset: Dataset, outputs: SplitOutputs, seed: int = 0,
                  structures: Sequence[str] | None = None) -> dict[str, Any]:
    """The metrics of the model's ``outputs`` on ``dataset`` at its card's threshold, with 95% bootstrap
    intervals; the set's class labels matched to the model's classes by name, the structures named by
    ``structures`` (by default the set's)."""
    task = loaded.task
    if structures is None:
        structures = task.structures(task.target_names(dataset))
    labels = loaded.task.labels(dataset, outputs.index, model_labels(loaded.class_names, dataset)[outputs.index]
                                if dataset.labels is not None else None)
    return task.score(outputs, labels, loaded.threshold, list(structures) or None, loaded.image_calibration, seed)


def score_split(loaded: LoadedModel, dataset: Dataset, index: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """:func:`score_outputs` of :func:`split_outputs`."""
    return score_outputs(loaded, dataset, split_outputs(loaded, dataset, index), seed)


def evaluate_split(loaded: LoadedModel, dataset: Dataset, split: str = "test", seed: int = 0) -> dict[str, Any]:
    """Metrics of a stored model on one split (``all``: every image), each with its 95% bootstrap interval
    (:func:`score_split`).

    A binary classifier is scored at the threshold its card records (chosen on validation), and says so;
    classifiers also report their calibration (ECE over 15 bins, Brier score).
    """
    check_fit(loaded, dataset)
    index = split_index(dataset, split)
    metrics = score_split(loaded, dataset, index, seed)
    if "threshold" in metrics:
        chosen = loaded.card.threshold
        metrics["threshold_source"] = (f"the model card: {chosen.get('rule', 'chosen')}, on {chosen['chosen_on']}"
                                       if chosen else "0.5: the model card records no threshold")
    return {"model": loaded.stored.name, "split": split, **metrics}


def evaluate_volumes(loaded: LoadedModel, volumes: Any, split: str = "test", seed: int = 0) -> dict[str, Any]:
    """Figures in mm of a volume model on one split of a volume set (``all``: every labelled volume): Dice, HD95,
    average surface distance and volume (mL) error per structure and their means, with 95% bootstrap intervals."""
    if not isinstance(volumes, VolumeSet) or loaded.card.dimensions != 3:
        what = "a volume model" if loaded.card.dimensions == 3 else "a model of 2-D images"
        raise ModelError(f"{loaded.stored.name} is {what}, and {getattr(volumes, 'name', 'the data set')} is "
                         f"{'a set of volumes' if isinstance(volumes, VolumeSet) else 'a set of 2-D images'}: give "
                         "each its kind")
    if list(volumes.structures) != loaded.card.structures:
        raise ModelError(f"{loaded.stored.name} outlines {loaded.card.structures}, but {volumes.name} names "
                         f"{volumes.structures}")
    index = np.arange(len(volumes)) if split == "all" else np.flatnonzero(volumes.split == split)
    if index.size == 0:
        raise ModelError(f"the {split} split of {volumes.name} is empty; choose another split")
    return {"model": loaded.stored.name, "split": split,
            **volume_split_scores(loaded.model, loaded.volume_steps, volumes, index)}


def volume_split_scores(model: Any, steps: VolumeSteps, volumes: VolumeSet, index: np.ndarray) -> dict[str, Any]:
    """The figures in mm of a volume model on the volumes at ``index`` (their own grids: each label volume brought
    back by the preprocessing's record), answered as the model answers (its mirror views averaged)."""
    chosen = [volumes.volumes[i] for i in index if volumes.volumes[i].labels is not None]
    predicted = [segment_volume(model, steps, v.image, v.spacing) for v in chosen]
    return volume_scores([v.labels for v in chosen], predicted, [v.spacing for v in chosen], volumes.structures)
