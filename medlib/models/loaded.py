"""Using a stored model: its preprocessing from the card, predictions, and metrics on a data set split."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from medlib.augment import load_augmenter
from medlib.datasets import FITS, Dataset
from medlib.gate import Profile
from medlib.models.architectures import ModelError
from medlib.models.heatmaps import METHODS, heatmaps, localization, overlay
from medlib.models.predict import predict
from medlib.preprocessing.pipeline import Pipeline, load_pipeline, make_pipeline
from medlib.preprocessing.volumes import VolumeSteps
from medlib.scoring.calibration import Calibration
from medlib.scoring.splits import task_scores
from medlib.store.card import ModelCard
from medlib.store.folders import StoredModel, get_model, load_model
from medlib.targets import ONE_STRUCTURE
from medlib.tasks import Task


@dataclass
class LoadedModel:
    """A Keras model with its card and the preprocessing recorded in that card."""

    stored: StoredModel
    model: Any
    pipeline: Pipeline | None
    """The card's preprocessing of 2-D images; ``None`` for a volume model (:attr:`volume_steps`)."""

    @property
    def card(self) -> ModelCard:
        return self.stored.card

    @property
    def task(self) -> Task:
        return self.card.spec

    @property
    def class_names(self) -> list[str]:
        return list(self.card.class_names)

    @property
    def threshold(self) -> float:
        """A binary classifier's decision threshold on class 1's probability: the card's, else 0.5."""
        return self.card.threshold_value

    @property
    def volume_steps(self) -> VolumeSteps:
        """A volume model's preprocessing (resampling, normalisation, patch), from its card."""
        if self.card.dimensions != 3:
            raise ModelError(f"{self.stored.name} takes 2-D images, not volumes: give it a film or a slice")
        return VolumeSteps.from_dict(self.card.preprocess)

    @property
    def image_calibration(self) -> Calibration | None:
        """A locating model's calibration of its candidates' scores (the probability that the image holds a
        finding), where its card has one."""
        if not self.task.from_findings or not self.card.calibration:
            return None
        return Calibration.from_dict(self.card.calibration)

    @property
    def fit(self) -> str:
        """How the model's training images of many sizes became squares (a data set it scores is read alike)."""
        fit = self.card.dataset.get("fit")
        return fit if fit in FITS else FITS[0]  # a set of one size ("as read") has no say: padding keeps aspect

    @property
    def target(self) -> str:
        """What a one-structure map model outlines (``lesion`` where its card does not name it)."""
        names = self.card.structures
        return names[0] if len(names) == 1 and names[0] != ONE_STRUCTURE else "lesion"

    @property
    def gray(self) -> bool:
        """Whether the model learned from gray images (then a colour picture is out of distribution)."""
        return self.card.channels == 1

    def profile(self, signal: str) -> Profile | None:
        """The gate's profile of ``features`` (classifier) or ``shape`` (map model) from the card, if it has one."""
        data = self.card.gate.get(signal)
        return Profile.from_dict(data) if data else None

    @cached_property
    def probe(self) -> Any | None:
        """A classifier giving its feature vector and its probabilities in one pass (the model is not changed);
        ``None`` for a model that does not end in a dense layer."""
        import keras

        from medlib.models.architectures import dense_head

        head = dense_head(self.model)
        return None if head is None else keras.Model(self.model.inputs, [head.input, self.model.outputs[0]])

    @property
    def mirrors(self) -> tuple[tuple[int, ...], ...]:
        """The mirror images to average a map model's maps over: the flips of its training augmentation."""
        return load_augmenter(self.card.augment or {"steps": []}).mirror_axes()


def card_pipeline(card: ModelCard, input_shape: tuple[int, ...]) -> Pipeline:
    """The card's preprocessing (for a card without one, a resize to the model's input and a window), led by a
    conversion to the channels the model takes where it has none: gray, RGB, RGBA or palette images all fit."""
    height, width = input_shape[:2]
    pipeline = load_pipeline(card.preprocess) if card.preprocess else make_pipeline(
        ("resize", {"height": height, "width": width, "mode": "stretch"}), "window")
    if any(name == "color" for name, _ in pipeline.steps):
        return pipeline
    return make_pipeline(("color", {"mode": "gray" if input_shape[-1] == 1 else "rgb"}), *pipeline.steps)


def open_model(path: str | Path) -> LoadedModel:
    """Load a store folder (``models/NAME``) with safe-mode Keras, checked against its card."""
    path = Path(path)
    stored = get_model(path.name, path.parent)
    model = load_model(stored)
    if stored.card.dimensions == 3:
        return LoadedModel(stored, model, None)
    return LoadedModel(stored, model, card_pipeline(stored.card, tuple(model.input_shape[1:])))


def check_fit(loaded: LoadedModel, dataset: Dataset) -> None:
    """Refuse a data set the model cannot take: without the task's targets, or with another number of classes
    or structures, or images the preprocessing does not bring to the model's input."""
    task, name = loaded.task, loaded.stored.name
    task.check(dataset)
    theirs = task.target_names(dataset)
    if len(theirs) != len(loaded.class_names):
        kind = "structures" if task.dense else "classes"
        raise ModelError(f"{name} knows {len(loaded.class_names)} {kind} {loaded.class_names}, but {dataset.name} has "
                         f"{len(theirs)} {theirs}")
    sample, _ = loaded.pipeline.apply(dataset.images[0])
    check_input(loaded, sample, f"{dataset.name}'s images ({dataset.channels} channel(s))",
                "use a data set like the one it was trained on")


def check_input(loaded: LoadedModel, model_input: np.ndarray, source: str, advice: str) -> None:
    """Refuse a preprocessed input the model cannot take: a classifier takes its own input shape, a map model any
    size with its channels (it predicts in tiles). ``source`` and ``advice`` finish the message."""
    expected = tuple(int(v) for v in loaded.model.input_shape[1:])
    fits = model_input.shape[-1] == expected[-1] if loaded.task.dense else model_input.shape == expected
    if not fits:
        raise ModelError(f"{loaded.stored.name} takes {expected} inputs, but its preprocessing makes "
                         f"{model_input.shape} from {source}; {advice}")


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


def evaluate_split(loaded: LoadedModel, dataset: Dataset, split: str = "test", seed: int = 0) -> dict[str, Any]:
    """Metrics of a stored model on one split (``all``: every image), each with its 95% bootstrap interval
    (:func:`medlib.scoring.splits.task_scores`).

    A binary classifier is scored at the threshold its card records (chosen on validation), and says so;
    classifiers also report their calibration (ECE over 15 bins, Brier score).
    """
    check_fit(loaded, dataset)
    index = split_index(dataset, split)
    labels = None if loaded.task.dense else model_labels(loaded.class_names, dataset)[index]
    metrics = task_scores(loaded.task, loaded.model, dataset, index, loaded.pipeline, loaded.mirrors,
                          loaded.threshold, seed=seed, class_labels=labels, image_calibration=loaded.image_calibration,
                          heat_label=loaded.card.finding if loaded.card.located_by == "heat map" else "")
    if "threshold" in metrics:
        chosen = loaded.card.threshold
        metrics["threshold_source"] = (f"the model card: {chosen.get('rule', 'chosen')}, on {chosen['chosen_on']}"
                                       if chosen else "0.5: the model card records no threshold")
    return {"model": loaded.stored.name, "split": split, **metrics}


def evaluate_volumes(loaded: LoadedModel, volumes: Any, split: str = "test", seed: int = 0) -> dict[str, Any]:
    """Figures in mm of a volume model on one split of a volume set (``all``: every labelled volume): Dice, HD95,
    average surface distance and volume (mL) error per structure and their means, with 95% bootstrap intervals."""
    from medlib.datasets import VolumeSet
    from medlib.training.volumes import volume_split_scores

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


def explain_images(
    loaded: LoadedModel, dataset: Dataset, index: np.ndarray, method: str = METHODS[0],
    class_index: np.ndarray | None = None, batch: int = 32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Heat maps for the images at ``index``, with the model inputs and (where the set has them) the masks.

    All three are at the model's input resolution, after the card's preprocessing.
    ``class_index`` picks the class to explain per image (default: the predicted one).
    """
    inputs, masks = [], []
    for i in index:
        image, mask = loaded.pipeline.apply(dataset.images[i], dataset.masks[i] if dataset.masks is not None else None)
        inputs.append(image)
        masks.append(mask)
    inputs_array = np.stack(inputs).astype(np.float32)
    heat = np.concatenate([
        heatmaps(loaded.model, inputs_array[start : start + batch], method=method,
                 class_index=None if class_index is None else class_index[start : start + batch])
        for start in range(0, len(index), batch)
    ])
    return heat, inputs_array, None if dataset.masks is None else np.stack(masks)


def _display(model_input: np.ndarray) -> np.ndarray:
    """A model input (H×W×C float) as a uint8 picture: its own range, first channel or RGB."""
    from medlib.display.drawing import scale_to_uint8

    return scale_to_uint8(model_input if model_input.shape[-1] == 3 else model_input[..., 0])


def explanation_picture(model_input: np.ndarray, heat: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The heat-map overlay on the model input, with the lesion outline (green) where a mask is given."""
    from medlib.display.drawing import draw_outline

    picture = overlay(_display(model_input), heat)
    return draw_outline(picture, mask, color=(64, 255, 64)) if mask is not None and mask.any() else picture


def write_explanations(loaded: LoadedModel, dataset: Dataset, split: str, out: Path, method: str = METHODS[0],
                       limit: int = 64) -> dict[str, Any]:
    """Write heat-map overlays (PNG) for a split; where masks exist, score the localization of every lesion.

    Each image is explained for its true class (where labels exist), so the
    pointing game asks: does the evidence for the lesion class lie on the lesion?
    """
    import cv2

    if loaded.task.dense:
        raise ModelError(f"{loaded.stored.name} is a {loaded.task.title} model: its output is already a map; "
                         "explain a classifier")
    check_fit(loaded, dataset)
    index = split_index(dataset, split)
    truth = dataset.labels[index]
    heat, inputs, masks = explain_images(loaded, dataset, index, method, class_index=truth)
    result: dict[str, Any] = {"model": loaded.stored.name, "split": split, "method": method, "images": int(index.size)}
    if masks is not None:
        result.update(localization(heat, masks))
    order = np.argsort(~masks.any(axis=(1, 2)), kind="stable") if masks is not None else np.arange(index.size)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for k in order[:limit]:
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in dataset.ids[index[k]])
        label = loaded.class_names[truth[k]] if truth[k] < len(loaded.class_names) else str(truth[k])
        picture = explanation_picture(inputs[k], heat[k], None if masks is None else masks[k])
        cv2.imwrite(str(out / f"{name}_{label}_{method}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        written += 1
    return result | {"written": written, "out": str(out)}
