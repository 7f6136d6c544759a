"""The tasks medlib trains, each declared once: the data it needs, its targets, loss, watched metric, scores,
what the out-of-distribution gate reads, and its default model.

- ``classify``: one class per image (a label), cross-entropy, watched by the validation AUC.
- ``segment``: a label map of named structures (one structure is the binary case), one sigmoid map per
  structure, Dice + cross-entropy over all structures, watched by the validation Dice.
- ``locate``: located findings (points with a radius, or boxes), learned as maps of disks or boxes, one per
  finding label (a probability map, as CAD systems for nodules do), scored as candidates: each connected
  region of the map is one, at its peak, with its score.

Pages, the command line and training ask a :class:`Task` what to do instead of comparing task names.

>>> TASKS["segment"].dense, TASKS["classify"].watched
(True, 'val_auc')
>>> task_for("nonsense")
Traceback (most recent call last):
...
medlib.errors.SpecError: unknown task 'nonsense'; choose one of classify, segment, locate
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medlib.errors import DatasetError, SpecError
from medlib.targets import render_findings

if TYPE_CHECKING:
    from medlib.datasets import Dataset


@dataclass(frozen=True)
class Task:
    """One task: what it needs, how it learns and how it is judged."""

    name: str
    title: str
    needs: str
    """What the samples must carry, in words (the error a set without it gets names it)."""
    dense: bool
    """Whether the model answers with a map (one value per pixel per target) rather than one per image."""
    watched: str
    """The validation metric that keeps the best epoch."""
    gate_signal: str
    """What the gate compares: ``features`` (a classifier's feature vector) or ``shape`` (a map's statistics)."""
    default_model: str
    loss: str
    """The loss, in words (the recipe and the card show it)."""
    scored_by: str
    """The card's and the evaluation's metrics, in words."""
    has_targets: Callable[[Dataset], bool]
    from_findings: bool = False
    """Whether the maps it learns are drawn from located findings (and it is also scored as candidates)."""
    prior: float | None = None
    """Where its maps start (:func:`medlib.models.architectures.build_model`): rare findings' maps near zero."""

    def check(self, dataset: Dataset) -> None:
        """Raise where ``dataset`` lacks what this task learns from, naming the tasks that fit it."""
        if self.has_targets(dataset):
            return
        fitting = [t.name for t in TASKS.values() if t.has_targets(dataset)]
        raise DatasetError(f"{dataset.name} has no {self.needs}, which the {self.name} task learns from; "
                           f"use {' or '.join(fitting) or 'another data set'}")

    def target_names(self, dataset: Dataset) -> list[str]:
        """What the model's outputs name: the classes, or the background and each structure or finding label."""
        if not self.dense:
            return list(dataset.class_names)
        return ["background", *self.training_set(dataset).structures]

    def training_set(self, dataset: Dataset) -> Dataset:
        """``dataset`` with the targets this task trains on in its ``masks``: a locating task's findings drawn as
        a label map (a disk per point, a filled box per box, one value per finding label)."""
        if not self.from_findings:
            return dataset
        labels = finding_labels(dataset)
        maps = np.stack([render_findings(found, dataset.image_size, labels) for found in dataset.findings])
        return dataclasses.replace(dataset, masks=maps, structures=labels)

    def num_outputs(self, dataset: Dataset) -> int:
        """Classes of a classifier; background plus structures (or finding labels) of a map model."""
        return len(self.target_names(dataset))

    def loss_function(self, num_classes: int, smoothing: float = 0.0, soft_targets: bool = False) -> Any:
        """The Keras loss for ``num_classes`` outputs (see :mod:`medlib.training.optimisation`)."""
        from medlib.training.optimisation import classification_loss, map_loss

        if self.dense:
            return map_loss(over_batch=self.from_findings, focal=self.from_findings)
        return classification_loss(num_classes, smoothing, soft_targets)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "needs": self.needs, "watched": self.watched,
                "loss": self.loss, "scored_by": self.scored_by, "default_model": self.default_model}


def located_by(task: Task, dataset: Dataset, names: list[str]) -> str:
    """How a model of ``task`` trained on ``dataset`` (answering ``names``) places its findings (see
    :attr:`medlib.store.card.ModelCard.located_by`): a locating model by its maps; a two-class classifier by its heat
    map where the set locates findings of its positive class; else not at all."""
    if task.from_findings:
        return "map"
    if not task.dense and len(names) == 2 and names[1] in finding_labels(dataset):
        return "heat map"
    return ""


def finding_labels(dataset: Dataset) -> list[str]:
    """The distinct labels of a set's findings, in the order first seen (what a locating model's maps name)."""
    seen: dict[str, None] = {}
    for found in dataset.findings or []:
        for finding in found:
            seen.setdefault(finding.label, None)
    return list(seen)


def _has_findings(dataset: Dataset) -> bool:
    return dataset.findings is not None and any(dataset.findings)


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("classify", "classification", "class labels", False, "val_auc", "features", "resnet-small",
             "cross-entropy (binary for two classes), classes balanced by weight",
             "accuracy, sensitivity, specificity, PPV, NPV, F1 and AUC at the validation threshold, ECE, Brier",
             lambda d: d.labels is not None),
        Task("segment", "segmentation", "label maps (masks)", True, "val_dice", "shape", "unet",
             "Dice + binary cross-entropy over every structure's map",
             "Dice, IoU, sensitivity, specificity, HD95 and pixel AUC, per structure and their mean",
             lambda d: d.masks is not None),
        Task("locate", "localization", "located findings (points or boxes)", True, "val_detection", "shape", "unet",
             "the batch's Dice + focal cross-entropy over maps of the findings (a disk per point, a box per box)",
             "candidates from the map: sensitivity at 0.5, 1, 2 and 4 false positives per image, and the "
             "image-level AUC of the best candidate's score",
             _has_findings, from_findings=True, prior=0.01),
    )
}


def task_for(name: str) -> Task:
    """The registered task of that name."""
    if name not in TASKS:
        raise SpecError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]


AUTO = "auto"
"""A config's task when it is left to the data (:func:`default_task`)."""
PREFERENCE = ("classify", "locate", "segment")
"""The task a set trains by default: the first of these it holds the targets of. A classifier comes first: it
answers the image-level question and, where the set locates findings of its positive class, places them by its
heat map (:func:`located_by`). On the 159 JSRT films out of fold a locating U-Net learned nothing (film AUC 0.50)
where the classifier reached 0.70 (benchmarks/README.md); a set with findings and maps but no class labels
locates."""


def default_task(dataset: Dataset) -> tuple[Task, str]:
    """The task ``dataset`` trains when none is set, and why.

    >>> from medlib.datasets import Dataset
    >>> films = Dataset("films", np.zeros((4, 2, 2, 1)), np.array(["train"] * 4), list("abcd"),
    ...                 labels=np.array([0, 1, 0, 1]), class_names=["normal", "nodule"])
    >>> default_task(films)[0].name
    'classify'
    """
    fitting = tasks_for(dataset)
    if not fitting:
        raise DatasetError(f"{dataset.name} holds no class labels, label maps or located findings to learn from")
    chosen = next(TASKS[name] for name in PREFERENCE if TASKS[name] in fitting)
    others = [t.name for t in fitting if t is not chosen]
    return chosen, (f"{chosen.title} from its {chosen.needs}" + (f" (it could also train {', '.join(others)}: "
                                                                 "set --task)" if others else ""))


def tasks_for(dataset: Dataset) -> list[Task]:
    """The tasks ``dataset`` can train, in registry order."""
    return [task for task in TASKS.values() if task.has_targets(dataset)]
