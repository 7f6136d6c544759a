"""Plain words for a validation metric that has not moved: what it means, so that a watcher does not read a
threshold's artefact (every image called positive) as a result.

>>> stuck_lines([{"epoch": 1, "val_sensitivity": 1.0, "val_specificity": 0.0},
...              {"epoch": 2, "val_sensitivity": 1.0, "val_specificity": 0.0}])[0][:44]
'every validation image is called positive so'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STUCK_EPOCHS = 2
"""A metric is said stuck once it has held its value this many epochs in a row, up to the latest."""


def _held(epochs: Sequence[dict[str, Any]], key: str, value: float) -> bool:
    recent = [e.get(key) for e in epochs[-STUCK_EPOCHS:]]
    return len(recent) == STUCK_EPOCHS and all(v is not None and abs(v - value) < 1e-9 for v in recent)


def stuck_lines(epochs: Sequence[dict[str, Any]]) -> list[str]:
    """One line for each validation metric of ``epochs`` (one fold's, in order) that has sat at a value that says
    more about the threshold or the start of training than about the model."""
    lines = []
    if _held(epochs, "val_sensitivity", 1.0) and _held(epochs, "val_specificity", 0.0):
        lines.append("every validation image is called positive so far (sensitivity 1, specificity 0): the model's "
                     "probabilities all sit above 0.5, so these two say nothing yet; the threshold is chosen on the "
                     "validation images at the end, and the AUC is the figure to watch")
    if _held(epochs, "val_sensitivity", 0.0) and _held(epochs, "val_specificity", 1.0):
        lines.append("every validation image is called negative so far (sensitivity 0, specificity 1): the model's "
                     "probabilities all sit below 0.5, so these two say nothing yet; the threshold is chosen on the "
                     "validation images at the end, and the AUC is the figure to watch")
    if _held(epochs, "val_auc", 0.5):
        lines.append("the validation AUC has stayed at 0.5: the model does not rank the images yet (often its "
                     "outputs are all the same early on)")
    if _held(epochs, "val_dice", 0.0):
        lines.append("the validation Dice has stayed at 0: no pixel is outlined yet; small structures often take a "
                     "few epochs to appear")
    return lines
