"""Metrics of label volumes in millimetres, per structure: Dice, HD95 and average symmetric surface distance using
the voxel spacing (as MONAI's ``compute_hausdorff_distance(spacing=...)``), the volume in mL and its error against
the reference; each averaged over volumes with a 95% bootstrap interval.

>>> truth = np.zeros((10, 10, 10), np.uint8); truth[2:8, 2:8, 2:8] = 1
>>> m = structure_metrics(truth == 1, truth == 1, (2.0, 1.0, 1.0))
>>> m["dice"], m["hd95_mm"], m["volume_ml"]
(1.0, 0.0, 0.432)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from medlib.scoring.classification import resample_weights

FIGURES = ("dice", "hd95_mm", "asd_mm", "volume_ml", "reference_ml", "volume_error_ml", "volume_error_pct")


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def structure_metrics(truth: np.ndarray, predicted: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """One structure's figures on one volume (masks of one shape, ``spacing`` in mm along their axes): HD95 and the
    surface distance are infinite where only one mask is empty, 0 where both are."""
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    voxel = float(np.prod(spacing)) / 1000.0  # mL
    both = float(truth.sum() + predicted.sum())
    out = {"dice": 2.0 * float((truth & predicted).sum()) / both if both else 1.0,
           "volume_ml": round(float(predicted.sum()) * voxel, 4), "reference_ml": round(float(truth.sum()) * voxel, 4)}
    out["volume_error_ml"] = round(out["volume_ml"] - out["reference_ml"], 4)
    out["volume_error_pct"] = 100.0 * out["volume_error_ml"] / out["reference_ml"] if out["reference_ml"] else \
        (0.0 if not out["volume_ml"] else float("inf"))
    if not truth.any() and not predicted.any():
        return out | {"hd95_mm": 0.0, "asd_mm": 0.0}
    if not truth.any() or not predicted.any():
        return out | {"hd95_mm": float("inf"), "asd_mm": float("inf")}
    edge_t, edge_p = _surface(truth), _surface(predicted)
    to_t = ndimage.distance_transform_edt(~edge_t, sampling=spacing)[edge_p]
    to_p = ndimage.distance_transform_edt(~edge_p, sampling=spacing)[edge_t]
    return out | {"hd95_mm": float(max(np.percentile(to_t, 95), np.percentile(to_p, 95))),
                  "asd_mm": float((to_t.sum() + to_p.sum()) / (to_t.size + to_p.size))}


def _summary(values: np.ndarray, weights: np.ndarray) -> tuple[float | None, list[float | None]]:
    finite = np.isfinite(values)
    if not finite.any():
        return None, [None, None]
    w = weights * finite
    boot = (w @ np.where(finite, values, 0.0)) / np.maximum(w.sum(axis=1), 1)
    return round(float(values[finite].mean()), 4), [round(float(v), 4) for v in np.percentile(boot, [2.5, 97.5])]


def volume_scores(truths: Sequence[np.ndarray], predictions: Sequence[np.ndarray], spacings: Sequence[Sequence[float]],
                  structures: Sequence[str], resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Each structure's figures (label volumes 0..K, structure k the value k) averaged over the volumes, with
    ``<figure>_ci``; the means over structures at the top; ``dice_per_structure``, ``hd95_mm_per_structure`` and
    ``volume_error_ml_per_structure`` for the command line. The absolute volume error's mean is reported too."""
    weights = resample_weights(len(truths), resamples, seed)
    per_structure: dict[str, Any] = {}
    tables = []
    for value, name in enumerate(structures, start=1):
        rows = [structure_metrics(t == value, p == value, s) for t, p, s in zip(truths, predictions, spacings,
                                                                              strict=True)]
        table = {figure: np.array([row[figure] for row in rows], float) for figure in FIGURES}
        table["abs_volume_error_pct"] = np.abs(table["volume_error_pct"])
        tables.append(table)
        entry: dict[str, Any] = {}
        for figure, values in table.items():
            entry[figure], entry[f"{figure}_ci"] = _summary(values, weights)
        per_structure[name] = entry
    result: dict[str, Any] = {"n": len(truths), "per_structure": per_structure}
    for figure in ("dice", "hd95_mm", "asd_mm", "abs_volume_error_pct"):
        with np.errstate(invalid="ignore"):
            mean = np.mean([table[figure] for table in tables], axis=0)
        result[figure], result[f"{figure}_ci"] = _summary(mean, weights)
    for figure, key in (("dice", "dice"), ("hd95_mm", "hd95_mm"), ("volume_error_ml", "volume_error_ml")):
        result[f"{key}_per_structure"] = {name: entry[figure] for name, entry in per_structure.items()}
    return result
