"""``segment``: a label map of named structures (one structure is the binary case), one sigmoid map per structure,
Dice + cross-entropy over all structures, watched by the validation Dice."""

from __future__ import annotations

from dataclasses import dataclass

from medlib.datasets import Dataset
from medlib.tasks.maps import MapTask


@dataclass(frozen=True)
class Segment(MapTask):
    name = "segment"
    title = "segmentation"
    needs = "label maps (masks)"
    watched = "val_dice"
    loss = "Dice + binary cross-entropy over every structure's map"
    scored_by = "Dice, IoU, sensitivity, specificity, HD95 and pixel AUC, per structure and their mean"
    view = "segmentation"

    def has_targets(self, dataset: Dataset) -> bool:
        return dataset.masks is not None


SEGMENT = Segment()
