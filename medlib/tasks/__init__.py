"""The tasks medlib trains, one module each, behind one registry: each owns its whole path (what it learns from,
its loss and the architectures that can learn it, its validation score, its outputs and scores, its calibration,
what the gate reads, and the candidates it places on an image), by the protocol of :class:`~medlib.tasks.base.Task`.

- ``classify`` (:mod:`~medlib.tasks.classify`): one class per image, cross-entropy, watched by the validation AUC;
- ``segment`` (:mod:`~medlib.tasks.segment`): a label map of named structures, Dice + cross-entropy;
- ``locate`` (:mod:`~medlib.tasks.locate`): located findings learned as maps of disks or boxes, scored as
  candidates;
- ``detect`` (:mod:`~medlib.tasks.detect`): located findings answered directly as centres with a radius and a
  score (a centre-point detector), watched by the validation FROC.

A new task is one module here (a :class:`~medlib.tasks.base.Task` subclass and its instance), one row in
:data:`TASKS` and, where it needs one, a head in :mod:`medlib.models.architectures`. Pages, the command line and
training ask a task what to do instead of comparing task names.

>>> TASKS["segment"].watched, TASKS["classify"].watched
('val_dice', 'val_auc')
>>> task_for("nonsense")
Traceback (most recent call last):
...
medlib.errors.SpecError: unknown task 'nonsense'; choose one of classify, segment, locate, detect
"""

from __future__ import annotations

from medlib.datasets import Dataset
from medlib.errors import DatasetError, SpecError
from medlib.tasks.base import Task
from medlib.tasks.classify import CLASSIFY
from medlib.tasks.detect import DETECT
from medlib.tasks.locate import LOCATE
from medlib.tasks.segment import SEGMENT

TASKS: dict[str, Task] = {task.name: task for task in (CLASSIFY, SEGMENT, LOCATE, DETECT)}

AUTO = "auto"
"""A config's task when it is left to the data (:func:`default_task`)."""
PREFERENCE = (DETECT, CLASSIFY, LOCATE, SEGMENT)
"""The task a set trains by default: the first of these it holds the targets of. A set that locates its findings
trains a detector, which answers where they are and, by its best candidate, whether the image holds one: on one
validation split of JSRT (28 films) a detector's candidates found 35% of the nodules at one false positive per
film where the heat-map classifier's found 1% (benchmarks/README.md); a set with class labels only classifies, one
with label maps only segments."""


def task_for(name: str) -> Task:
    """The registered task of that name."""
    if name not in TASKS:
        raise SpecError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]


def tasks_for(dataset: Dataset) -> list[Task]:
    """The tasks ``dataset`` can train, in registry order."""
    return [task for task in TASKS.values() if task.has_targets(dataset)]


def check_task(task: Task, dataset: Dataset) -> None:
    """Raise where ``dataset`` lacks what ``task`` learns from, naming the tasks that fit it."""
    if task.has_targets(dataset):
        return
    fitting = [t.name for t in tasks_for(dataset)]
    raise DatasetError(f"{dataset.name} has no {task.needs}, which the {task.name} task learns from; "
                       f"use {' or '.join(fitting) or 'another data set'}")


def default_task(dataset: Dataset) -> tuple[Task, str]:
    """The task ``dataset`` trains when none is set, and why.

    >>> import numpy as np
    >>> films = Dataset("films", np.zeros((4, 2, 2, 1)), np.array(["train"] * 4), list("abcd"),
    ...                 labels=np.array([0, 1, 0, 1]), class_names=["normal", "nodule"])
    >>> default_task(films)[0].name
    'classify'
    >>> from medlib.targets import Finding
    >>> import dataclasses
    >>> located = dataclasses.replace(films, findings=[[], [Finding("nodule", (1.0, 1.0), 1.0)], [], []])
    >>> default_task(located)[0].name
    'detect'
    """
    fitting = tasks_for(dataset)
    if not fitting:
        raise DatasetError(f"{dataset.name} holds no class labels, label maps or located findings to learn from")
    chosen = next(task for task in PREFERENCE if task in fitting)
    others = [t.name for t in fitting if t is not chosen]
    return chosen, (f"{chosen.title} from its {chosen.needs}" + (f" (it could also train {', '.join(others)}: "
                                                                 "set --task)" if others else ""))


__all__ = ["AUTO", "TASKS", "Task", "check_task", "default_task", "task_for", "tasks_for"]
