"""A data set's fingerprint: the facts a recipe is derived from (in the spirit of nnU-Net's data fingerprint).

Image sizes as the files had them (median and spread), channels, how the values are stored and spread (8- or
16-bit films, CT in Hounsfield units, 0..1, colour), the class balance, and for masks the foreground share and
the sizes of the objects in them; the number of images and of patients. Statistics are taken on at most
:data:`SAMPLE` images, spread evenly over the set.

>>> from medlib.datasets.phantom import make_phantom
>>> facts = data_fingerprint(make_phantom(n=30, size=64))
>>> facts["images"], facts["channels"], facts["intensity"]["kind"], facts["masks"]["images_with_foreground"] > 0
(30, 1, 'unit', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from skimage.measure import label, regionprops

from medlib.datasets import Dataset, VolumeSet
from medlib.datasets.partial import labelled_map
from medlib.targets import Finding

SAMPLE = 200
"""Most images whose values and masks are read for the statistics."""


def _spread(values: np.ndarray) -> dict[str, float]:
    """Median, 10th and 90th percentiles, minimum and maximum."""
    low, p10, median, p90, high = np.percentile(values, [0, 10, 50, 90, 100])
    return {"median": float(median), "p10": float(p10), "p90": float(p90), "min": float(low), "max": float(high)}


def _kind(values: np.ndarray, stored: np.dtype) -> str:
    """How the values are stored: ``8-bit``, ``16-bit``, ``CT (HU)``, ``unit`` (0..1) or ``float``."""
    low, high = float(values.min()), float(values.max())
    integral = stored.kind in "ui" or bool(np.array_equal(values, np.round(values)))
    if integral and low >= 0 and high <= 255:
        return "8-bit"
    if integral and low >= 0 and high <= 65535:
        return "16-bit"
    if integral and low >= -2048 and high <= 4095 and low < -500:
        return "CT (HU)"
    if low >= 0 and high <= 1:
        return "unit"
    return "float"


def intensity(images: np.ndarray) -> dict[str, Any]:
    """How the values of ``images`` (N×H×W×C) are stored and spread; for colour, each channel's contrast."""
    stride = max(1, max(images.shape[1:3]) // 256)
    values = np.asarray(images[:, ::stride, ::stride], np.float32)
    facts: dict[str, Any] = {"kind": _kind(values, images.dtype),
                             "percentiles": dict(zip(("p0.5", "p50", "p99.5"),
                                                     (float(v) for v in np.percentile(values, [0.5, 50, 99.5])),
                                                     strict=True)),
                             "mean": float(values.mean()), "std": float(values.std())}
    if images.shape[-1] == 3:
        contrast = [float(np.mean([values[i, ..., c].std() for i in range(len(values))])) for c in range(3)]
        facts["channel_contrast"] = dict(zip("RGB", contrast, strict=True))
        gray = values.mean(axis=-1)
        spread = float(np.percentile(gray, 99.5) - np.percentile(gray, 0.5)) or 1.0
        facts["colourfulness"] = float((values.max(axis=-1) - values.min(axis=-1)).mean()) / spread
    return facts


def mask_facts(masks: np.ndarray, structures: Sequence[str] = ("foreground",)) -> dict[str, Any]:
    """Foreground share and object sizes of ``masks`` (N×H×W label maps, values 0..K), over all structures and,
    where there are several, per structure (``structures`` names the values 1..K)."""
    facts = _object_facts(labelled_map(masks) > 0, masks.shape[1] * masks.shape[2])
    if len(structures) > 1:
        facts["structures"] = {name: _object_facts(masks == value, masks.shape[1] * masks.shape[2])
                               for value, name in enumerate(structures, start=1)}
    return facts


def _object_facts(masks: np.ndarray, size: int) -> dict[str, Any]:
    areas, counts = [], []
    for mask in masks:
        regions = regionprops(label(mask, connectivity=2))
        counts.append(len(regions))
        areas += [r.area for r in regions]
    facts: dict[str, Any] = {
        "foreground": float(masks.mean()),
        "images_with_foreground": int(sum(c > 0 for c in counts)),
        "objects_per_image": _spread(np.array(counts, float)),
    }
    if areas:
        facts["object_area_px"] = _spread(np.array(areas, float))
        facts["object_side_px"] = float(np.sqrt(np.median(areas)))  # the side of a square of the median area
        facts["object_share"] = float(np.median(areas)) / size
    return facts


def finding_facts(findings: Sequence[Sequence[Finding]]) -> dict[str, Any]:
    """How many located findings an image holds, and their radius or box side in pixels."""
    sizes = [2 * f.radius if f.box is None else max(f.box[2] - f.box[0], f.box[3] - f.box[1])
             for row in findings for f in row if f.box is not None or f.radius is not None]
    facts: dict[str, Any] = {"per_image": _spread(np.array([len(row) for row in findings], float)),
                             "kinds": sorted({f.kind for row in findings for f in row})}
    if sizes:
        facts["size_px"] = _spread(np.array(sizes, float))
    return facts


def data_fingerprint(dataset: Dataset | VolumeSet) -> dict[str, Any]:
    """The data set's fingerprint (JSON-ready): sizes, channels, intensities, classes, masks, images and patients."""
    if isinstance(dataset, VolumeSet):
        return volume_fingerprint(dataset)
    n = len(dataset)
    sample = np.unique(np.linspace(0, n - 1, min(n, SAMPLE)).astype(int)) if n else np.zeros(0, int)
    sizes = np.array(dataset.source_sizes or [dataset.image_size] * n, float)
    facts: dict[str, Any] = {
        "images": n,
        "patients": len(set(dataset.groups)) if dataset.groups else None,
        "size": {"height": _spread(sizes[:, 0]), "width": _spread(sizes[:, 1]),
                 "distinct": len({tuple(s) for s in sizes.tolist()}), "stored": list(dataset.image_size),
                 "fit": dataset.fit},
        "channels": dataset.channels,
        "dtype": str(dataset.images.dtype),
        "intensity": intensity(dataset.images[sample]) if n else {},
    }
    if dataset.labels is not None:
        counts = np.bincount(dataset.labels, minlength=len(dataset.class_names))
        facts["classes"] = dict(zip(dataset.class_names, (int(c) for c in counts), strict=True))
        facts["imbalance"] = float(counts.max() / max(counts.min(), 1))
    if dataset.masks is not None:
        facts["masks"] = mask_facts(dataset.masks[sample], dataset.structures)
    if dataset.findings is not None:
        facts["findings"] = finding_facts(dataset.findings)
    facts["dimensions"] = 2
    facts["spacing_mm"] = None if dataset.spacing is None else list(dataset.spacing)
    return facts


def volume_fingerprint(dataset: VolumeSet) -> dict[str, Any]:
    """A 3-D set's fingerprint: shapes and spacing per axis, intensities, and each structure's share and volume."""
    shapes = np.array([v.image.shape for v in dataset.volumes], float)
    spacing = np.array([v.spacing for v in dataset.volumes], float)
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(len(dataset), SAMPLE)).astype(int))
    values = np.concatenate([dataset.volumes[i].image.ravel()[::7] for i in picks])
    facts: dict[str, Any] = {
        "images": len(dataset), "dimensions": 3, "modality": dataset.modality,
        "shape": [_spread(shapes[:, k]) for k in range(3)],
        "spacing_mm": [_spread(spacing[:, k]) for k in range(3)],
        "anisotropy": float(np.median(spacing.max(axis=1) / spacing.min(axis=1))),
        "intensity": {"percentiles": dict(zip(("p0.5", "p50", "p99.5"),
                                              (float(v) for v in np.percentile(values, [0.5, 50, 99.5])),
                                              strict=True)),
                      "mean": float(values.mean()), "std": float(values.std())},
    }
    labelled = [v for v in dataset.volumes if v.labels is not None]
    if labelled:
        facts["structures"] = {
            name: {"share": float(np.mean([(v.labels == k).mean() for v in labelled])),
                   "volume_ml": _spread(np.array([(v.labels == k).sum() * np.prod(v.spacing) / 1000.0
                                                  for v in labelled]))}
            for k, name in enumerate(dataset.structures, start=1)}
    return facts
