"""Candidate findings from a locating model's probability map, and how they are scored against located findings.

A candidate is one connected region of the map above :data:`FLOOR`: its score is the region's peak probability,
its centre the centroid of the part above half the peak (weighted by the probability), its radius that of a disk
of that part's area. Candidates are
ranked by score. A candidate *hits* a finding when its centre lies within the finding's radius plus
:data:`HIT_MARGIN_MM` (or :data:`HIT_MARGIN_PX` where the pixel spacing is unknown), or within its box by the
same margin; a finding hit by several candidates counts once, and the others are neither hits nor false
positives.

The detection figures are those of the field (FROC, as the JSRT and LUNA nodule studies report them): the share
of findings found at 0.125 to 8 false positives per image (:data:`FP_RATES`), and the image-level AUC of each
image's best score against whether it holds a finding; each with a 95% bootstrap interval over images.

>>> probability = np.zeros((20, 20), np.float32); probability[4:9, 4:9] = 0.9
>>> [(c.centre, c.score) for c in find_candidates(probability, label="nodule")]
[((6.0, 6.0), 0.9)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from medlib.scoring.classification import resample_weights
from medlib.targets import DEFAULT_RADIUS, Finding

FLOOR = 0.05
"""The map's value under which nothing is a candidate (low: the threshold that decides is set on validation)."""
HIT_MARGIN_MM = 5.0
"""How far outside a finding's radius (mm) a candidate's centre still hits it."""
HIT_MARGIN_PX = DEFAULT_RADIUS
"""The margin in pixels where the images' spacing is unknown."""
HEAT_FLOOR = 0.3
"""Where a classifier's heat map (0..1, its own maximum 1) holds a candidate: from this share of its peak on."""
FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""False positives per image at which the share of findings found is reported (the FROC's points)."""


def find_candidates(probability: np.ndarray, floor: float = FLOOR, limit: int = 20, label: str = "") -> list[Finding]:
    """The candidates of one map (H×W) of findings of ``label``, best first, at most ``limit``: each a
    :class:`~medlib.targets.Finding` with its radius and score."""
    probability = np.asarray(probability, np.float32)
    count, labels = cv2.connectedComponents((probability >= floor).astype(np.uint8), connectivity=8)
    found = []
    for k in range(1, count):
        values = np.where(labels == k, probability, 0.0)
        peak = float(values.max())
        rows, columns = np.nonzero(values >= peak / 2)
        weight = values[rows, columns].astype(np.float64)
        centre = (round(float(columns @ weight / weight.sum()), 3), round(float(rows @ weight / weight.sum()), 3))
        found.append(Finding(label, centre, float(np.sqrt(rows.size / np.pi)), score=round(peak, 6)))
    found.sort(key=lambda c: -c.score)
    return found[:limit]


CENTRE_FLOOR = 0.02
"""A detector's centre map's value under which no peak is a candidate."""


def decode_centres(maps: np.ndarray, labels: Sequence[str], floor: float = CENTRE_FLOOR,
                   limit: int = 20) -> dict[str, list[Finding]]:
    """A detector's candidates per label, best first: the local maxima (3×3) of each centre map (``maps``: H×W×(K+1),
    the K labels' centre maps then the radius map) from ``floor`` on, each at the centroid of the map's values
    around its peak, with the radius read there; overlapping ones merged (:func:`merge_overlapping`), at most
    ``limit``.

    >>> maps = np.zeros((12, 12, 2), np.float32); maps[3, 4, 0], maps[8, 9, 0], maps[..., 1] = 0.8, 0.3, 2.5
    >>> [(c.centre, c.radius, c.score) for c in decode_centres(maps, ["nodule"])["nodule"]]
    [((4.0, 3.0), 2.5, 0.8), ((9.0, 8.0), 2.5, 0.3)]
    """
    maps = np.asarray(maps, np.float32)
    radius = maps[..., -1]
    found: dict[str, list[Finding]] = {}
    for k, label in enumerate(labels):
        heat = maps[..., k]
        peaks = (heat >= floor) & (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8)))
        rows, columns = np.nonzero(peaks)
        order = np.argsort(-heat[rows, columns], kind="stable")[: 4 * limit]
        padded = np.pad(heat, 1)
        candidates = []
        for y, x in zip(rows[order], columns[order], strict=True):
            window = padded[y:y + 3, x:x + 3].astype(np.float64)
            dy, dx = np.mgrid[-1:2, -1:2]
            shift = (float((window * dx).sum() / window.sum()), float((window * dy).sum() / window.sum()))
            candidates.append(Finding(label, (round(float(x + shift[0]), 3), round(float(y + shift[1]), 3)),
                                      round(float(max(radius[y, x], 0.5)), 3), score=round(float(heat[y, x]), 6)))
        found[label] = merge_overlapping(candidates)[:limit]
    return found


def merge_overlapping(candidates: Sequence[Finding]) -> list[Finding]:
    """The candidates best first, each one whose centre lies inside a better one's circle (or that better one's
    centre inside its own) merged into it: one finding, one candidate.

    >>> found = [Finding("n", (10.0, 10.0), 4.0, score=0.9), Finding("n", (13.0, 10.0), 2.0, score=0.7),
    ...          Finding("n", (30.0, 10.0), 2.0, score=0.5)]
    >>> [c.centre for c in merge_overlapping(found)]
    [(10.0, 10.0), (30.0, 10.0)]
    """
    kept: list[Finding] = []
    for candidate in sorted(candidates, key=lambda c: -(c.score or 0.0)):
        x, y = candidate.centre
        if not any((x - k.centre[0]) ** 2 + (y - k.centre[1]) ** 2 < max(k.radius or 0.0, candidate.radius or 0.0,
                                                                          1.0) ** 2 for k in kept):
            kept.append(candidate)
    return kept


def scaled(candidates: Sequence[Finding], probability: float) -> list[Finding]:
    """A heat map's candidates scored by the image's probability of the finding times the heat at their peak: the
    best one scores the image's probability, the others less."""
    return [replace(c, score=round(float(probability) * c.score, 6)) for c in candidates]


def hit_margin(spacing: float | None) -> float:
    """The hit margin in pixels: :data:`HIT_MARGIN_MM` at ``spacing`` mm a pixel, else :data:`HIT_MARGIN_PX`."""
    return HIT_MARGIN_MM / spacing if spacing else HIT_MARGIN_PX


def hits(candidate: Finding, finding: Finding, margin: float) -> bool:
    """Whether the candidate's centre lies within the finding (its radius or box) widened by ``margin`` pixels."""
    x, y = candidate.centre
    if finding.box is not None:
        x0, y0, x1, y1 = finding.box
        return x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin
    reach = (finding.radius or 0.0) + margin
    return (x - finding.centre[0]) ** 2 + (y - finding.centre[1]) ** 2 <= reach**2


def match(candidates: Sequence[Finding], findings: Sequence[Finding],
          margin: float = HIT_MARGIN_PX) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate (in order): its score, and 1 where it is the best candidate on a finding not yet hit, 0
    where it hits nothing (a false positive), -1 where it hits only findings already hit (ignored).

    >>> nodule = Finding("nodule", (10.0, 10.0), 2.0)
    >>> found = [Finding("nodule", c, 2, score=s) for c, s in (((11, 10), 0.9), ((10, 12), 0.8), ((30, 30), 0.7))]
    >>> match(found, [nodule], 1.0)
    (array([0.9, 0.8, 0.7]), array([ 1, -1,  0]))
    """
    found = np.zeros(len(findings), bool)
    kinds = []
    for candidate in candidates:
        hit = [k for k, f in enumerate(findings) if hits(candidate, f, margin)]
        fresh = [k for k in hit if not found[k]]
        if fresh:
            found[fresh[0]] = True
        kinds.append(1 if fresh else (-1 if hit else 0))
    return np.array([c.score for c in candidates], np.float64), np.array(kinds, np.int64)


def _froc(scores: list[np.ndarray], kinds: list[np.ndarray], findings: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sensitivity at each of :data:`FP_RATES` for each row of image weights (a bootstrap resample)."""
    every = np.concatenate(scores) if scores else np.zeros(0)
    image = np.concatenate([np.full(s.size, i) for i, s in enumerate(scores)]) if scores else np.zeros(0, int)
    kind = np.concatenate(kinds) if kinds else np.zeros(0, int)
    order = np.argsort(-every, kind="stable")
    image, kind = image[order], kind[order]
    out = np.zeros((len(weights), len(FP_RATES)))
    for row, w in enumerate(weights):
        hits = np.cumsum((kind == 1) * w[image])
        false = np.cumsum((kind == 0) * w[image]) / max(w.sum(), 1e-12)
        total = max(float(w @ findings), 1e-12)
        for column, rate in enumerate(FP_RATES):
            reach = np.flatnonzero(false <= rate)
            out[row, column] = hits[reach[-1]] / total if reach.size else 0.0
    return out


def cpm_per_image(candidates: Sequence[Sequence[Finding]], findings: Sequence[Sequence[Finding]],
                  spacing: float | None = None) -> np.ndarray:
    """Each image's share of the competition performance metric (LUNA16's CPM: the mean sensitivity at 1/8 to 8
    false positives per image, :data:`FP_RATES`), so that their mean is the split's CPM: at each rate, the findings
    an image's candidates hit from the split's score threshold for that rate on, over all the split's findings.
    Per image, so that a run can test whether one epoch is measurably worse than another.

    >>> nodule = [Finding("n", (10.0, 10.0), 2.0)]
    >>> hit, miss = [Finding("n", (10.0, 10.0), 2.0, score=0.9)], [Finding("n", (40.0, 40.0), 2.0, score=0.8)]
    >>> cpm_per_image([hit, miss], [nodule, nodule]).tolist()  # one of two found before any false positive
    [1.0, 0.0]
    """
    margin = hit_margin(spacing)
    pairs = [match(c, f, margin) for c, f in zip(candidates, findings, strict=True)]
    total = sum(len(f) for f in findings)
    out = np.zeros(len(findings))
    if not total:
        return out
    scores = np.concatenate([p[0] for p in pairs] + [np.zeros(0)])
    kinds = np.concatenate([p[1] for p in pairs] + [np.zeros(0, np.int64)])
    false = np.sort(scores[kinds == 0])[::-1]
    for rate in FP_RATES:
        allowed = int(np.floor(rate * len(findings)))  # false positives the split may hold at this rate
        cut = false[allowed] if allowed < false.size else -np.inf  # the first false one not allowed
        for i, (score, kind) in enumerate(pairs):
            out[i] += np.sum((kind == 1) & (score > cut))
    return out * len(findings) / (total * len(FP_RATES))


def candidate_scores(candidates: Sequence[Sequence[Finding]], findings: Sequence[Sequence[Finding]],
                     spacing: float | None = None, resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The detection figures of a split (see the module's docstring), each with ``<name>_ci``: ``froc`` (the
    points: false positives per image, sensitivity, its interval), ``sensitivity_at_<rate>fp`` for each of
    :data:`FP_RATES`, and ``image_auc``."""
    from sklearn.metrics import roc_auc_score

    margin = hit_margin(spacing)
    pairs = [match(c, f, margin) for c, f in zip(candidates, findings, strict=True)]
    counts = np.array([len(f) for f in findings], np.float64)
    weights = resample_weights(len(findings), resamples, seed)
    point = _froc([p[0] for p in pairs], [p[1] for p in pairs], counts, np.ones((1, len(findings))))[0]
    boot = _froc([p[0] for p in pairs], [p[1] for p in pairs], counts, weights)
    result: dict[str, Any] = {"findings": int(counts.sum()), "images": len(findings),
                              "hit_margin_px": round(margin, 2), "froc": []}
    for column, rate in enumerate(FP_RATES):
        name = f"sensitivity_at_{rate:g}fp"
        low, high = (round(float(v), 4) for v in np.percentile(boot[:, column], [2.5, 97.5]))
        result[name], result[f"{name}_ci"] = round(float(point[column]), 4), [low, high]
        result["froc"].append([rate, result[name], low, high])
    best = np.array([max((c.score for c in found), default=0.0) for found in candidates])
    holds = counts > 0
    if 0 < holds.sum() < holds.size:
        result["image_auc"] = round(float(roc_auc_score(holds, best)), 4)
        aucs = [roc_auc_score(holds, best, sample_weight=w) for w in weights
                if w[holds].sum() > 0 and w[~holds].sum() > 0]
        result["image_auc_ci"] = [round(float(v), 4) for v in np.percentile(aucs, [2.5, 97.5])]
    return result
