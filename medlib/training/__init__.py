"""Training: a JSON config, a tf.data input pipeline with the preprocessing and augmentation specs, live progress
events, the epoch kept by its validation scores, a stop request, a time budget, and the model store.

One job per module, in the order a run uses them:

- :mod:`~medlib.training.config`: every setting, declared once (:data:`CONFIG_PARAMS`), and :class:`TrainConfig`;
- :mod:`~medlib.training.plan`: the run's concrete :class:`RunPlan`, resolved from the config and the data;
- :mod:`~medlib.training.inputs`: the tf.data input (patches, augmentation, batches, mixup);
- :mod:`~medlib.training.optimisation`: the optimiser, the schedule, the batch a timed run can afford;
- :mod:`~medlib.training.monitor`: validation each epoch (scored by the task, :mod:`medlib.tasks`), the epoch kept;
- :mod:`~medlib.training.scoring`: the card's metrics, calibration and gate;
- :mod:`~medlib.training.run`: :func:`train`, which saves the model with its card.

Importing this package does not import TensorFlow; a run does.
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "ABOUT_KEYS": "config", "CONFIG_PARAMS": "config", "Progress": "config", "TrainConfig": "config",
    "make_inputs": "inputs", "mix_batches": "inputs", "cosine_rate": "optimisation", "RunPlan": "plan",
    "resolve": "plan", "validation_split": "plan", "TrainResult": "scoring", "train": "run", "plan_run": "run",
    "fit_gate": "scoring",
}
"""Where each public name lives: a module is imported when one of its names is first used, so that the pages
and the command line that only need a config do not load the metrics and calibration code."""

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'medlib.training' has no attribute {name!r}")
    return getattr(import_module(f"medlib.training.{_WHERE[name]}"), name)
