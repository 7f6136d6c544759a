"""Using a stored model: its preprocessing from the card, predictions, and metrics on a data set split."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from medlib.augment import load_augmenter
from medlib.datasets import FITS, Dataset
from medlib.gate.profile import Profile
from medlib.models.architectures import ModelError
from medlib.preprocessing.pipeline import Pipeline, load_pipeline, make_pipeline
from medlib.preprocessing.volumes import VolumeSteps
from medlib.scoring.calibration import Calibration
from medlib.store.card import ModelCard
from medlib.store.folders import StoredModel, get_model, load_model
from medlib.targets import ONE_STRUCTURE
from medlib.tasks import Task, check_task

MAX_SCALE = 4
"""An image brought to a model's millimetres per pixel is at most this many of its inputs across (a spacing read
wrong must not make a film of a gigapixel)."""


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

    def pipeline_for(self, shape: tuple[int, ...], spacing: tuple[float, float] | None) -> tuple[Pipeline, str]:
        """The preprocessing of an image of ``shape`` (H×W…, ``spacing`` mm a pixel: rows, columns) and a line for
        the user where it rests on an assumption.

        A model whose task answers at its own scale (:attr:`medlib.tasks.Task.at_own_scale`) and whose card knows
        its training images' millimetres (:attr:`ModelCard.pixel_mm`) sees the image at those millimetres, at its
        own proportions, however large (in tiles); at most :data:`MAX_SCALE` inputs across. An image without a
        spacing is taken to span what the training images spanned, and the line says so. Any other model: the
        card's pipeline.
        """
        pixel_mm, inputs = self.card.pixel_mm, [int(v) for v in self.card.input_shape[:2]]
        if self.pipeline is None or not self.task.at_own_scale or pixel_mm is None:
            return self.pipeline, ""
        if spacing is None:
            return self.pipeline, (f"the image has no pixel spacing: {self.stored.name} took it to span "
                                   f"{pixel_mm * max(inputs):.0f} mm, as its training images did")
        sides = [n * float(mm) / pixel_mm for n, mm in zip(shape[:2], spacing, strict=True)]
        shrink = min(1.0, MAX_SCALE * max(inputs) / max(sides))
        note = "" if shrink == 1.0 else (f"the image spans {max(sides) * pixel_mm:.0f} mm by its pixel spacing: "
                                         f"{self.stored.name} saw it at {pixel_mm / shrink:.2f} mm a pixel, not its "
                                         f"own {pixel_mm:.2f}")
        return self.pipeline.at_size(*(max(8, round(side * shrink)) for side in sides)), note

    @property
    def image_calibration(self) -> Calibration | None:
        """A locating model's calibration of its candidates' scores (the probability that the image holds a
        finding), where its card has one."""
        return self.task.image_calibration(self.card.calibration)

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
    check_task(task, dataset)
    theirs = task.target_names(dataset)
    if len(theirs) != len(loaded.class_names):
        raise ModelError(f"{name} knows {task.describe_targets(len(loaded.class_names))} {loaded.class_names}, but "
                         f"{dataset.name} has {len(theirs)} {theirs}")
    sample, _ = loaded.pipeline.apply(dataset.images[0])
    check_input(loaded, sample, f"{dataset.name}'s images ({dataset.channels} channel(s))",
                "use a data set like the one it was trained on")


def check_input(loaded: LoadedModel, model_input: np.ndarray, source: str, advice: str) -> None:
    """Refuse a preprocessed input the model cannot take: a classifier takes its own input shape, a map model any
    size with its channels (it predicts in tiles). ``source`` and ``advice`` finish the message."""
    expected = tuple(int(v) for v in loaded.model.input_shape[1:])
    if not loaded.task.fits_input(tuple(model_input.shape), expected):
        raise ModelError(f"{loaded.stored.name} takes {expected} inputs, but its preprocessing makes "
                         f"{model_input.shape} from {source}; {advice}")
