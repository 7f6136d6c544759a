"""Segmentation: metrics against a reference mask (inside a field of view), lesion findings.

Per-image metrics (Dice, IoU, sensitivity, specificity, HD95) are averaged over
the split; the pixel AUC pools every pixel of the split inside the field of
view. Intervals are percentile bootstrap intervals over images, like the
classification metrics'.

>>> truth = np.zeros((8, 8), np.uint8); truth[2:6, 2:6] = 1
>>> m = mask_metrics(truth, truth * 0.9)
>>> m["dice"], m["iou"], m["hd95"]
(1.0, 1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from medlib.datasets.partial import known, labelled_map
from medlib.scoring.classification import resample_weights

ORGAN_MIN_PART = 0.1
"""An outline of anatomy (a segmenter of anything but lesions, such as lung fields) keeps the pieces of at least this
share of its largest one, with their holes filled: a stray bit at an arm or a speck is no organ. Lesions are kept
as they are, down to 4 pixels."""
SEGMENTATION_METRICS = ("dice", "iou", "sensitivity", "specificity", "hd95", "auc")
AUC_BINS = 1024


def structure_pairs(truth: np.ndarray, probability: np.ndarray) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """(reference mask, probability map) of each structure: a label map (0..K) against K maps (H×W×K; an H×W map
    is one structure, whose reference is every value above 0); ``None`` for a structure the label map does not label
    (:mod:`medlib.datasets.partial`), which the image's figures leave out.

    >>> [(t.tolist(), p.tolist()) for t, p in structure_pairs(np.array([[0, 2]]), np.array([[[0.1, 0.2], [0.3, 0.9]]]))]
    [([[False, False]], [[0.1, 0.3]]), ([[False, True]], [[0.2, 0.9]])]
    >>> from medlib.datasets.partial import UNKNOWN
    >>> structure_pairs(np.array([[UNKNOWN + 2, 1]]), np.zeros((1, 2, 2)))[1] is None
    True
    """
    probability, truth = np.asarray(probability), np.asarray(truth)
    if probability.ndim == 2 or probability.shape[-1] == 1:
        return [(labelled_map(truth) > 0, probability.reshape(probability.shape[:2]))]
    return [(truth == k + 1, probability[..., k]) if known(truth, k + 1) else None
            for k in range(probability.shape[-1])]


def foreground(probability: np.ndarray) -> np.ndarray:
    """The probability (H×W) that a pixel belongs to any structure: the largest of its structures' maps."""
    probability = np.asarray(probability, np.float32)
    return probability if probability.ndim == 2 else probability.max(axis=-1)


def hd95(truth: np.ndarray, predicted: np.ndarray, spacing: tuple[float, float] = (1.0, 1.0)) -> float:
    """The 95th-percentile symmetric Hausdorff distance between the masks' boundaries (in spacing units).

    0 when both masks are empty; infinite when only one is (no boundary to reach).
    """
    truth, predicted = np.asarray(truth) > 0, np.asarray(predicted) > 0
    if not truth.any() and not predicted.any():
        return 0.0
    if not truth.any() or not predicted.any():
        return float("inf")

    def boundary(mask: np.ndarray) -> np.ndarray:
        return mask & ~ndimage.binary_erosion(mask, border_value=0)

    edge_t, edge_p = boundary(truth), boundary(predicted)
    to_t = ndimage.distance_transform_edt(~edge_t, sampling=spacing)
    to_p = ndimage.distance_transform_edt(~edge_p, sampling=spacing)
    return float(max(np.percentile(to_t[edge_p], 95), np.percentile(to_p[edge_t], 95)))


def _ratio(num: float, den: float, empty: float) -> float:
    return float(num / den) if den else empty


def mask_metrics(truth: np.ndarray, probability: np.ndarray, threshold: float = 0.5, fov: np.ndarray | None = None,
                 spacing: tuple[float, float] = (1.0, 1.0)) -> dict[str, float]:
    """Dice, IoU, sensitivity, specificity and HD95 of one predicted map, counting only pixels inside ``fov``."""
    inside = np.ones(truth.shape, bool) if fov is None else np.asarray(fov) > 0
    t = (np.asarray(truth) > 0) & inside
    p = (np.asarray(probability) >= threshold) & inside
    tp, fp = float(np.sum(t & p)), float(np.sum(~t & p & inside))
    fn, tn = float(np.sum(t & ~p)), float(np.sum(~t & ~p & inside))
    return {
        "dice": _ratio(2 * tp, 2 * tp + fp + fn, 1.0),
        "iou": _ratio(tp, tp + fp + fn, 1.0),
        "sensitivity": _ratio(tp, tp + fn, 1.0),
        "specificity": _ratio(tn, tn + fp, 1.0),
        "hd95": hd95(t, p, spacing),
    }


def _histograms(truth: np.ndarray, probability: np.ndarray, fov: np.ndarray | None) -> np.ndarray:
    """Counts of positive and negative pixels per probability bin (2×bins), inside the field of view."""
    inside = np.ones(truth.shape, bool) if fov is None else np.asarray(fov) > 0
    bins = np.clip((np.asarray(probability)[inside] * AUC_BINS).astype(int), 0, AUC_BINS - 1)
    positive = (np.asarray(truth) > 0)[inside]
    return np.stack([np.bincount(bins[positive], minlength=AUC_BINS), np.bincount(bins[~positive], minlength=AUC_BINS)])


def _auc_from_histograms(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUC per row of binned positive and negative counts (ties within a bin count half)."""
    below = np.cumsum(neg, axis=-1) - neg
    pairs = pos.sum(axis=-1) * neg.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (pos * (below + 0.5 * neg)).sum(axis=-1) / np.maximum(pairs, 1), np.nan)


def split_metrics(
    truths: list[np.ndarray], probabilities: list[np.ndarray], fovs: list[np.ndarray | None] | None = None,
    threshold: float = 0.5, resamples: int = 1000, seed: int = 0, spacing: tuple[float, float] = (1.0, 1.0),
    structures: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Mean per-image metrics and the pooled pixel AUC of a split, each with ``<metric>_ci`` (95%, over images).

    ``truths`` are label maps, ``probabilities`` one map per structure (see :func:`structure_pairs`). With several
    structures, each gets its own metrics under ``per_structure`` (by its name in ``structures``), and the top-level
    figures are each image's mean over the structures (and the pixel AUC pooled over them).
    HD95 is averaged over the images where both masks have a boundary (``hd95_n`` of them).
    """
    fovs = fovs if fovs is not None else [None] * len(truths)
    pairs = [structure_pairs(t, p) for t, p in zip(truths, probabilities, strict=True)]
    count = len(pairs[0]) if pairs else 1
    names = list(structures or [f"structure {k + 1}" for k in range(count)])
    weights = resample_weights(len(truths), resamples, seed)
    tables, histograms = [], []
    unknown = dict.fromkeys(SEGMENTATION_METRICS[:-1], np.nan)  # a structure an image's set does not label
    for k in range(count):
        per_image = [unknown if pair[k] is None else mask_metrics(*pair[k], threshold, f, spacing)
                     for pair, f in zip(pairs, fovs, strict=True)]
        tables.append({name: np.array([m[name] for m in per_image], float) for name in SEGMENTATION_METRICS[:-1]})
        histograms.append(np.stack([np.zeros((2, AUC_BINS), int) if pair[k] is None else _histograms(*pair[k], f)
                                    for pair, f in zip(pairs, fovs, strict=True)]))
    if count == 1:
        return _summary(tables[0], histograms[0], weights) | {"n": len(truths)}
    with np.errstate(invalid="ignore"):
        mean = {name: np.mean([table[name] for table in tables], axis=0) for name in tables[0]}
    result = _summary(mean, np.sum(histograms, axis=0), weights)
    result["per_structure"] = {name: _summary(table, hist, weights) for name, table, hist
                               in zip(names, tables, histograms, strict=True)}
    return result | {"n": len(truths)}


def _summary(table: dict[str, np.ndarray], histograms: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
    """Means of per-image metrics with bootstrap intervals (``weights``: one resample a row), and the pixel AUC
    pooled over the images' histograms (2×bins each), with its interval."""
    result: dict[str, Any] = {}
    for name, values in table.items():
        finite = np.isfinite(values)
        if not finite.any():
            result[name], result[f"{name}_ci"] = None, [None, None]
            continue
        w = weights * finite
        boot = (w @ np.where(finite, values, 0.0)) / np.maximum(w.sum(axis=1), 1)
        result[name] = round(float(values[finite].mean()), 4)
        result[f"{name}_ci"] = [round(float(v), 4) for v in np.percentile(boot, [2.5, 97.5])]
    result["hd95_n"] = int(np.isfinite(table["hd95"]).sum())
    pooled = histograms.sum(axis=0)
    auc = _auc_from_histograms(pooled[0], pooled[1])
    boot_auc = _auc_from_histograms(weights @ histograms[:, 0, :], weights @ histograms[:, 1, :])
    boot_auc = boot_auc[np.isfinite(boot_auc)]
    result["auc"] = None if not np.isfinite(auc) else round(float(auc), 4)
    result["auc_ci"] = [round(float(v), 4) for v in np.percentile(boot_auc, [2.5, 97.5])] if boot_auc.size else [
        None, None]
    return result


def find_lesions(probability: np.ndarray, threshold: float = 0.5, spacing: tuple[float, float] | None = None,
                 min_pixels: int = 4) -> list[dict[str, Any]]:
    """Connected components of the predicted mask (lesions, lung fields: whatever the segmenter outlines), largest
    first, numbered from 1: box, area (mm² where spacing is known), mean probability.

    Boxes are ``[x0, y0, x1, y1]`` in pixels, ``x1``/``y1`` exclusive.
    """
    probability = np.asarray(probability, np.float32)
    count, labels, stats, centres = cv2.connectedComponentsWithStats((probability >= threshold).astype(np.uint8),
                                                                     connectivity=8, ltype=cv2.CV_32S)
    found = []
    for k in range(1, count):
        x0, y0, width, height, area = (int(v) for v in stats[k])
        if area < min_pixels:
            continue
        box = np.s_[y0 : y0 + height, x0 : x0 + width]  # summed inside its box: fast on a full-size film
        mean = float(probability[box][labels[box] == k].sum(dtype=np.float64) / area)
        finding = {"box": [x0, y0, x0 + width, y0 + height], "area_px": area, "mean_probability": round(mean, 4),
                   "centre": [round(float(centres[k][0]), 1), round(float(centres[k][1]), 1)]}
        if spacing is not None:
            finding["area_mm2"] = round(float(area * spacing[0] * spacing[1]), 2)
        found.append(finding)
    found.sort(key=lambda f: -f["area_px"])
    return [{"finding": k + 1, **f} for k, f in enumerate(found)]


def organ_outline(mask: np.ndarray, min_part: float = ORGAN_MIN_PART) -> np.ndarray:
    """The pieces of ``mask`` of at least ``min_part`` of its largest piece (8-connected), holes filled.

    >>> mask = np.zeros((20, 20), bool); mask[2:12, 2:12] = True; mask[6, 6] = False; mask[15, 15] = True
    >>> organ = organ_outline(mask); bool(organ[6, 6]), bool(organ[15, 15]), int(organ.sum())
    (True, False, 100)
    """
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.astype(bool)
    sizes = stats[1:, cv2.CC_STAT_AREA]
    kept = np.zeros(count, np.uint8)
    kept[1:][sizes >= min_part * sizes.max()] = 1
    # What the background outside the image reaches (4-connected) is outside; the rest of the background is a hole.
    outside = np.pad(kept[pieces], 1)
    cv2.floodFill(outside, None, (0, 0), 2)
    return outside[1:-1, 1:-1] != 2
