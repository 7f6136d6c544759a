"""The concrete settings of one run, resolved from its config and the data (:mod:`medlib.training.recipe` derives
them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from medlib.augment import Augmenter
from medlib.datasets import Dataset
from medlib.datasets.nodule_sets import NoduleSimulation
from medlib.datasets.split import assign_splits
from medlib.errors import DatasetError
from medlib.models.architectures import DEFAULT_SEGMENTER, unet_depth_for
from medlib.preprocessing.pipeline import Pipeline
from medlib.spec import SpecError
from medlib.tasks import AUTO, Task, check_task, default_task, task_for
from medlib.training.budget import MIN_PASSES, UNET_WIDTH, batch_for, epochs_for
from medlib.training.config import TrainConfig
from medlib.training.fingerprint import data_fingerprint
from medlib.training.recipe import Choice, derive


@dataclass
class RunPlan:
    """The concrete settings of one run, resolved from the config and the data."""

    task: Task
    model: str
    input_shape: tuple[int, int, int]
    num_classes: int
    """A classifier's classes; a map model's background and structures (one sigmoid map each after the first)."""
    batch_size: int
    pipeline: Pipeline
    augmenter: Augmenter
    class_weight: dict[int, float] | None
    train_index: np.ndarray
    val_index: np.ndarray
    notes: list[str] = field(default_factory=list)
    image_shape: tuple[int, int, int] | None = None
    """The preprocessed images' shape where the model sees patches of them (``input_shape``)."""
    patches_per_image: int = 1
    choices: dict[str, Choice] = field(default_factory=dict)
    """Every setting with its reason, derived from the data or set (:mod:`medlib.training.recipe`)."""
    epochs: int = 0
    width: int = 0
    """The network's first-level filters (0: the architecture's own)."""
    folds: int = 1
    """Models trained on folds of train and validation (1: one model on the validation split)."""
    simulation: NoduleSimulation | None = None
    """Nodules from CT blended into a share of each fit's training films without a finding."""

    @property
    def samples_per_epoch(self) -> int:
        return int(self.train_index.size * self.patches_per_image)

    @property
    def steps_per_epoch(self) -> int:
        return int(math.ceil(self.samples_per_epoch / self.batch_size))

    def count_epochs(self, config: TrainConfig) -> None:
        """Set the epochs from the config and the steps an epoch takes at this batch (:func:`epochs_for`)."""
        self.choices["epochs"] = epochs_for(config, self.steps_per_epoch)
        self.epochs = int(self.choices["epochs"].value)


def validation_split(dataset: Dataset, fraction: float = 0.15,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The training and validation images: the data set's own val split, else ``fraction`` of train held out
    (stratified by class, grouped by patient), with a note saying so."""
    train, val = dataset.indices("train"), dataset.indices("val")
    if val.size:
        return train, val, None
    labels = dataset.labels[train] if dataset.labels is not None else None
    groups = [dataset.groups[i] for i in train] if dataset.groups else None
    split = assign_splits(train.size, labels, groups, seed=seed, fractions=(1.0 - fraction, fraction, 0.0))
    note = f"no val split: {int((split == 'val').sum())} train images held out for validation"
    return train[split == "train"], train[split == "val"], note


def resolve(config: TrainConfig, dataset: Dataset) -> RunPlan:
    """Fill the config's automatic settings from the data (``dataset`` as the task trains on it, see
    :meth:`medlib.tasks.Task.training_set`)."""
    task = default_task(dataset)[0] if config.task == AUTO else task_for(config.task)
    check_task(task, dataset)
    dataset = task.training_set(dataset)
    train, val, note = validation_split(dataset, config.val_fraction, config.seed)
    if train.size < 2 or val.size < 1:
        raise DatasetError(f"{dataset.name} has too few images to train ({train.size} train, {val.size} validation)")
    notes = [note] if note else []
    derived = derive(config, task, dataset, data_fingerprint(dataset), train)
    pipeline, patch = derived.pipeline, derived.patch
    sample, _ = pipeline.apply(dataset.images[train[0]])
    if config.preprocess is not None:
        notes.append(f"input size {sample.shape[1]}×{sample.shape[0]} comes from the preprocessing spec")
    image_shape = tuple(int(v) for v in sample.shape)
    if patch:
        if patch % 8 or patch > min(sample.shape[:2]):
            raise SpecError(f"training config: patch_size must be a multiple of 8 and at most the preprocessed "
                            f"image's side ({min(sample.shape[:2])}); got {patch}")
        size = f"{sample.shape[1]}×{sample.shape[0]}"
        notes.append(f"training on {derived.per_image} random {patch}×{patch} patches per image per epoch; "
                     f"validation and test in overlapping tiles of the {size} images")
        sample = np.zeros((patch, patch, sample.shape[-1]), np.float32)
    num_classes = task.num_outputs(dataset)
    class_weight = task.class_weight(task.labels(dataset, train), num_classes, config.class_weighting)
    batch, why = (config.batch_size, "set") if config.batch_size else batch_for(train.size)
    derived.choices["batch size"] = Choice(batch, why, not config.batch_size)
    plan = RunPlan(task, derived.model, tuple(int(v) for v in sample.shape), num_classes, batch, pipeline,
                   derived.augmenter, class_weight, train, val, notes, image_shape if patch else None,
                   derived.per_image if patch else 1, choices=derived.choices)
    if derived.model == DEFAULT_SEGMENTER:
        depth = unet_depth_for(plan.input_shape)
        plan.choices["U-Net depth"] = Choice(depth, f"its {plan.input_shape[0]}-px input halves {depth} times")
        plan.width = UNET_WIDTH
        plan.choices["U-Net width"] = Choice(UNET_WIDTH, f"{UNET_WIDTH} filters at the first level; a timed run "
                                               f"halves it where its budget buys fewer than {MIN_PASSES} passes")
    if config.folds:
        plan.folds = config.folds
        plan.choices["folds"] = Choice(config.folds, "set", False)
    plan.count_epochs(config)
    return plan
