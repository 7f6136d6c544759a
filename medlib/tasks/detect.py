"""``detect``: located findings answered directly, each a centre with a radius and a score: a centre-point detector
(CenterNet's heads on a U-Net, :func:`medlib.models.architectures.build_centernet`) learned from points or boxes by
a focal loss on Gaussian bumps at their centres (:func:`medlib.models.losses.centre_loss`), its candidates the
peaks of its centre maps (:func:`medlib.scoring.candidates.decode_centres`), watched by the validation FROC (LUNA16's
CPM: the mean sensitivity at 1/8 to 8 false positives per image), calibrated like a locating model (the probability
that the image holds a finding, from its best candidate's score).

Against ``locate`` (a probability map of disks, its connected regions the candidates): the targets are the centres
themselves, so one finding is one peak whatever its size, and the loss weighs each finding alike however few its
pixels, where a map of disks is dominated by the large ones and the images without any.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.models.architectures import DEFAULT_DETECTOR
from medlib.models.losses import centre_loss
from medlib.preprocessing.pipeline import Pipeline
from medlib.scoring.calibration import Calibration
from medlib.scoring.candidates import cpm_per_image, decode_centres
from medlib.scoring.splits import SplitOutputs, add_detection
from medlib.targets import Finding, finding_parts, render_findings
from medlib.tasks.locate import Locate
from medlib.tasks.maps import with_image_reliability

SIGMA_SHARE = 0.5
"""A centre's Gaussian bump spreads over this share of the finding's radius (at least one pixel): its peak is the
centre pixel, its slope says how near a miss is."""


def centre_maps(label_map: np.ndarray, labels: int) -> np.ndarray:
    """A detector's target for one image (H×W×(labels+1)): per label a map of Gaussian bumps, 1 on each finding's
    centre pixel, and the map of radii on those pixels, from the findings drawn one value each on ``label_map``
    (:func:`medlib.targets.render_findings` with ``each``, after they moved with the image).

    >>> disk = render_findings([Finding("nodule", (5.0, 4.0), 2.0)], (9, 11), ["nodule"], each=True)
    >>> target = centre_maps(disk, 1)
    >>> [int(v) for v in np.unravel_index(target[..., 0].argmax(), disk.shape)], target[4, 5, 1], target[4, 7, 0]
    ([4, 5], np.float32(2.03), np.float32(0.1447))
    """
    height, width = label_map.shape[:2]
    out = np.zeros((height, width, labels + 1), np.float32)
    rows, columns = np.mgrid[0:height, 0:width]
    for k, x, y, radius in finding_parts(np.asarray(label_map), labels):
        cx, cy = int(round(x)), int(round(y))
        sigma = max(SIGMA_SHARE * radius, 1.0)
        bump = np.exp(-((columns - cx) ** 2 + (rows - cy) ** 2) / (2 * sigma**2)).astype(np.float32)
        out[..., k] = np.maximum(out[..., k], np.round(bump, 4))
        out[cy, cx, -1] = round(radius, 2)
    return out


@dataclass(frozen=True)
class Detect(Locate):
    name = "detect"
    title = "detection"
    needs = "located findings (points or boxes)"
    watched = "val_cpm"
    default_model = DEFAULT_DETECTOR
    loss = ("CenterNet's focal loss on Gaussian bumps at the findings' centres (a near miss costs little, a "
            "confident false peak much) + L1 on their radii")
    scored_by = ("candidates: sensitivity at 1/8 to 8 false positives per image (the FROC) and their mean (CPM), "
                 "and the image-level AUC of the best candidate's score")
    prior = 0.01
    at_own_scale = True
    _centres = True

    def training_set(self, dataset: Dataset) -> Dataset:
        """``dataset`` with its findings drawn one value each in ``masks`` (a disk per point, a box per box), so
        each finding's centre and size can be read after it moved with the image."""
        labels = dataset.finding_labels()
        maps = np.stack([render_findings(found, dataset.image_size, labels, each=True) for found in dataset.findings])
        return dataclasses.replace(dataset, masks=maps, structures=labels)

    def loss_function(self, num_classes: int, smoothing: float = 0.0, soft_targets: bool = False) -> Any:
        return centre_loss()

    def target_shape(self, image_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(image_shape[:2])

    def encode(self, targets: Any, num_outputs: int) -> Any:
        """The batch's findings (one value each, moved with their images) as centre maps and radii
        (:func:`centre_maps`)."""
        import tensorflow as tf

        def render(batch: np.ndarray) -> np.ndarray:
            return np.stack([centre_maps(m, num_outputs - 1) for m in batch]) if len(batch) else \
                np.zeros((0, *batch.shape[1:], num_outputs), np.float32)

        encoded = tf.numpy_function(render, [targets], tf.float32)
        encoded.set_shape((*targets.shape, num_outputs))
        return encoded

    def find(self, maps: np.ndarray, labels: Sequence[str]) -> dict[str, list[Finding]]:
        """The peaks of each label's centre map with the radius read there (:func:`decode_centres`)."""
        return decode_centres(maps, labels)

    def validation_scores(self, model: Any, dataset: Dataset, index: np.ndarray, pipeline: Pipeline,
                          val_inputs: Any, logs: dict[str, Any]) -> np.ndarray:
        """Each validation image's share of the split's CPM (:func:`medlib.scoring.candidates.cpm_per_image`),
        averaged over the finding labels: the run keeps the epoch that finds most at few false positives."""
        out = self.outputs(model, dataset, index, pipeline)
        scores = np.mean([cpm_per_image(out.candidates[label], out.findings[label], out.spacing)
                          for label in out.candidates], axis=0)
        logs["val_cpm"] = float(np.mean(scores))
        return scores

    def score(self, outputs: SplitOutputs, labels: np.ndarray | None = None, threshold: float = 0.5,
              structures: Sequence[str] | None = None, image_calibration: Calibration | None = None,
              seed: int = 0) -> dict[str, Any]:
        """The candidates against the findings (FROC, its CPM, the image-level AUC), with the image-level
        probability's calibration error where ``image_calibration`` gives that probability."""
        metrics = add_detection({"n": int(outputs.index.size)}, outputs, seed)
        for found in metrics.get("detection", {}).values():
            found["cpm"] = round(float(np.mean([point[1] for point in found["froc"]])), 4)
        if "cpm" not in metrics and len(metrics.get("detection", {})) == 1:
            metrics["cpm"] = next(iter(metrics["detection"].values()))["cpm"]
        return with_image_reliability(metrics, outputs, image_calibration)

    def probability_maps(self, maps: np.ndarray) -> np.ndarray:
        """The centre maps, without the radii (what the gate reads)."""
        return maps[..., :-1]

DETECT = Detect()
