"""What to train and how: every training setting, declared once with its range, default and help."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, field, make_dataclass
from typing import Any

from medlib.datasets import FITS
from medlib.models.architectures import ARCHITECTURES, DEFAULT_SEGMENTER
from medlib.spec import Param, SpecError
from medlib.tasks import AUTO, TASKS, task_for

Progress = Callable[[dict[str, Any]], None]

ABOUT_KEYS = ("description", "provenance", "license", "citation", "intended_use", "modality", "body_part",
              "population", "ages", "target")
"""Facts about the data and the model that a card may carry beside what training records (see
:class:`medlib.store.card.ModelCard`; ``target``: what a segmenter's masks show where they name no structure, such as
``lung field``)."""

MIXUP_UNTIL = 0.8
"""Mixup blends the batches of the run's first 80% only: the model settles on real images at the low learning
rate of the end (timm's ``mixup_off_epoch`` does the same)."""

DENSE = tuple(t.name for t in TASKS.values() if t.takes(DEFAULT_SEGMENTER))
PER_IMAGE = tuple(t.name for t in TASKS.values() if not t.takes(DEFAULT_SEGMENTER))
"""The tasks whose models answer with maps (their patch settings apply), and those that answer per image (their
class weights, label smoothing and mixup apply)."""

#: Every training setting, declared once: its type, default, allowed values, label and help. The
#: :class:`TrainConfig` fields, the Training page's form and the ``train`` command's flags all come from these.
CONFIG_PARAMS: tuple[Param, ...] = (
    Param("task", "choice", AUTO, choices=(AUTO, *TASKS), help="auto: from the data (class labels: classify, placing "
          "located findings by its heat map; else located findings: locate; else label maps: segment); " + "; ".join(
              f"{t.name}: {t.title} from {t.needs}" for t in TASKS.values())),
    Param("model", "choice", AUTO, choices=(AUTO, *ARCHITECTURES), label="architecture",
          help="auto: " + ", ".join(f"{t.default_model} for {t.title}" for t in TASKS.values())),
    Param("epochs", "int", 0, 0, 10_000, label="epochs (0 = from the data)", help="passes over the data; 0 derives "
          "it: the whole time limit, or without one at least 1,000 optimiser steps and 30 passes"),
    Param("max_minutes", "float", 0.0, 0.0, 10_000.0, step=1.0, label="time limit (minutes, 0 = none)",
          help="stop after this many minutes, saving the kept model; the schedule follows the clock"),
    Param("optimizer", "choice", "adamw", choices=("adamw", "adam", "sgd"), label="optimiser"),
    Param("learning_rate", "float", 2e-3, 1e-6, 1.0, step=1e-4, log=True, help="the peak rate of the schedule"),
    Param("schedule", "choice", "cosine", choices=("cosine", "constant"),
          help="cosine: a 5% warm-up, then down to 1% of the peak by the end of the run"),
    Param("batch_size", "int", 0, 0, 1024, label="batch size (0 = from the data)",
          help="0 derives it: a tenth of the training images (8 to 64), smaller where a time limit buys too few "
          "steps on this machine"),
    Param("early_stopping", "int", 10, 0, 1000, label="early stopping patience (0 = off)",
          help="epochs measurably worse than the best before stopping, counted in the run's second half"),
    Param("seed", "int", 0, 0, 2**31 - 1, help="the same seed gives the same run"),
    Param("weight_decay", "float", 1e-4, 0.0, 0.1, step=1e-4, log=True, help="AdamW's decoupled weight decay"),
    Param("class_weighting", "choice", "balanced", choices=("balanced", "none"), shown_if=("task", PER_IMAGE),
          help="balanced: each class weighs as much in the loss, however rare"),
    Param("label_smoothing", "float", 0.0, 0.0, 0.5, step=0.05, shown_if=("task", PER_IMAGE),
          help="classification: soften the 0/1 targets"),
    Param("mixup", "float", 0.0, 0.0, 1.0, step=0.1, label="mixup α (0 = off)", shown_if=("task", PER_IMAGE),
          help="classification: blend pairs of training images and their labels (the Beta distribution's α) in "
          f"the first {MIXUP_UNTIL:.0%} of the run: often better calibrated, sometimes at the cost of ranking (AUC)"),
    Param("image_size", "int", 0, 0, 1024, label="input side (0 = from the data)",
          help="the model's input side; 0 derives it from the image and object sizes"),
    Param("patch_size", "int", 0, 0, 512, label="patch side (0 = from the data)", shown_if=("task", DENSE),
          help="segmentation: random patches of this side (a multiple of 8); 0 derives it from the image and "
          "object sizes (no patches for images up to 256 px or of large objects)"),
    Param("patches_per_image", "int", 0, 0, 1000, label="patches per image (0 = from the data)",
          shown_if=("task", DENSE), help="segmentation with patches: patches drawn per image per epoch; 0 "
          "derives it (about 1,024 an epoch)"),
    Param("nodule_share", "float", 0.5, 0.0, 1.0, step=0.05, label="share of normal films given nodules",
          help="with a folder of CT nodules (--nodules): the share of training films without a finding that receive "
          "1-3 simulated nodules (validation films never do)"),
    Param("folds", "int", 0, 0, 10, label="folds (0 = from the data)",
          help="train this many models on patient-grouped folds of train and validation and store their "
          "ensemble; calibration and the threshold come from their out-of-fold predictions; 0 chooses 5 for a "
          "small set with a time limit that buys them, else 1"),
    Param("val_fraction", "float", 0.15, 0.05, 0.5, step=0.05, label="validation share",
          help="the part of train held out for validation when the data set has no val split"),
    Param("fit", "choice", FITS[0], choices=FITS, help="images of many sizes become squares: pad keeps their "
          "aspect, stretch fills the square"),
)

_TYPES = {"int": int, "float": float, "bool": bool, "choice": str}


class _Config:
    """The methods of :class:`TrainConfig` (its fields come from :data:`CONFIG_PARAMS`)."""

    def __post_init__(self) -> None:
        for param in CONFIG_PARAMS:
            setattr(self, param.name, param.check(getattr(self, param.name), "training config"))
        if self.preprocess is not None:
            from medlib.preprocessing.pipeline import load_pipeline  # here: the command line's help needs no image code

            load_pipeline(self.preprocess)
        if self.augment is not None:
            from medlib.augment import load_augmenter

            load_augmenter(self.augment)
        task = task_for(self.task) if self.task != AUTO else None
        if task is not None and self.model != "auto" and not task.takes(self.model):
            raise SpecError(f"training config: model {self.model!r} answers with "
                            f"{'maps' if ARCHITECTURES[self.model].dense else 'one vector per image'}, which "
                            f"{task.title} cannot use; choose {task.default_model} or auto")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise SpecError(f"training config: unknown setting(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**dict(data))

    @classmethod
    def from_json(cls, text: str | bytes) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SpecError(f"the training config is not valid JSON ({exc})") from exc

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TrainConfig = make_dataclass(
    "TrainConfig",
    [("data", str, field(default="phantom")), ("preprocess", dict | None, field(default=None)),
     ("augment", dict | None, field(default=None)), ("init_from", str | None, field(default=None)),
     ("nodules", str | None, field(default=None)), ("also", list | None, field(default=None))]
    + [(p.name, _TYPES[p.kind], field(default=p.default)) for p in CONFIG_PARAMS],
    bases=(_Config,),
)
TrainConfig.__module__ = __name__  # where pickle finds it (the training process receives one)
TrainConfig.__doc__ = """What to train and how: the data (a path or ``phantom``), optional preprocessing and
augmentation specs (``None`` derives them from the data), a stored model to start from (``init_from``: its
weights are copied wherever a layer matches), a folder of CT nodules to blend into a share of the training films
without a finding (``nodules``, NODE21's layout; :mod:`medlib.datasets.nodules`), further data sets joined to
``data`` (``also``: paths, each ``PATH:STRUCTURE`` where its one structure needs a name; :func:`medlib.datasets.
combine.load_joined`: each structure learned where its set labels it), and one field per
:data:`CONFIG_PARAMS` entry with its default (the default recipe)."""
