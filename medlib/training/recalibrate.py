"""A shipped classifier fitted to a site: its calibration and decision threshold refitted on the site's own labelled
films, its weights kept (``medlib recalibrate``, the Evaluation page).

The site's films are split in two halves (stratified, grouped by patient, seeded): the calibration and the threshold
are fitted on the first; the second says what changed, before and after, with 95% bootstrap intervals. The new
calibration is folded into the model's last dense layer on top of the old one (a temperature and a bias: the
ranking, and so the AUC, is the same), and kept only where it lowers the calibration error on the half it was fitted
on (:func:`medlib.scoring.calibration.calibrate_classifier`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medlib.datasets import Dataset
from medlib.datasets.split import assign_splits
from medlib.errors import DatasetError, ModelError
from medlib.models.loaded import LoadedModel, check_fit
from medlib.scoring.calibration import Calibration, calibrate_classifier, fold_into
from medlib.scoring.classification import ECE_BINS, calibration, classifier_scores, resample_weights
from medlib.scoring.evaluate import model_labels
from medlib.store.folders import StoredModel, save_model

MIN_FILMS, MIN_PER_CLASS = 20, 5
"""A site set must hold at least this many labelled films, and this many of each class (half of each fits, half
checks)."""
FIGURES = ("sensitivity", "specificity", "auc")


@dataclass
class Recalibrated:
    """The recalibrated model as stored, and what changed on the site's check half (``before`` and ``after``: the
    ECE, sensitivity, specificity and AUC with intervals, and the reliability diagrams)."""

    stored: StoredModel
    site: dict[str, Any]
    reliability: dict[str, dict[str, Any]]


def _ece_interval(labels: np.ndarray, probabilities: np.ndarray, seed: int) -> list[float]:
    """A 95% percentile bootstrap interval of the expected calibration error (200 resamples over films)."""
    values = []
    for weights in resample_weights(labels.size, 200, seed):
        drawn = np.repeat(np.arange(labels.size), weights.astype(int))
        values.append(calibration(labels[drawn], probabilities[drawn], bins=ECE_BINS)["ece"])
    return [round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])]


def _figures(labels: np.ndarray, probabilities: np.ndarray, threshold: float, seed: int) -> dict[str, Any]:
    """The check half's figures at ``threshold``, each with its interval."""
    raw = np.stack([1.0 - probabilities, probabilities], axis=1)
    scores = classifier_scores(labels, raw, threshold, seed=seed)
    out = {"threshold": round(float(threshold), 4), "ece": round(float(scores["ece"]), 4),
           "ece_ci": _ece_interval(labels, raw, seed)}
    for name in FIGURES:
        out[name] = None if scores[name] is None else round(float(scores[name]), 4)
        out[f"{name}_ci"] = scores[f"{name}_ci"]
    return out


def check_site(labels: np.ndarray, class_names: list[str]) -> None:
    """Refuse a site set too small, or short of a class, to fit a calibration and check it."""
    counts = [int((labels == k).sum()) for k in range(len(class_names))]
    held = ", ".join(f"{count} {name}" for name, count in zip(class_names, counts, strict=True))
    if labels.size < MIN_FILMS or min(counts) < MIN_PER_CLASS:
        raise DatasetError(f"recalibration needs at least {MIN_FILMS} labelled films of the site with at least "
                           f"{MIN_PER_CLASS} of each class; this set has {labels.size} ({held})")


def recalibrate(loaded: LoadedModel, dataset: Dataset, out: Path, seed: int = 0,
                overwrite: bool = False) -> Recalibrated:
    """``loaded`` (a two-class classifier) with its calibration and threshold refitted on every labelled film of
    ``dataset`` (a site's), saved as the model folder ``out``; see the module's docstring."""
    if not loaded.task.positive_class(loaded.class_names):  # the task says whether it thresholds one probability
        raise ModelError(f"{loaded.stored.name} is not a two-class classifier: only a classifier's probability and "
                         "threshold can be refitted to a site")
    check_fit(loaded, dataset)
    if dataset.labels is None:
        raise DatasetError(f"{dataset.name} has no class labels: the site's films must be labelled "
                           f"({', '.join(loaded.class_names)})")
    labels = np.asarray(model_labels(loaded.class_names, dataset))
    check_site(labels, loaded.class_names)
    halves = assign_splits(labels.size, labels, dataset.groups or None, seed=seed, fractions=(0.5, 0.5, 0.0))
    fit, check = np.flatnonzero(halves == "train"), np.flatnonzero(halves != "train")
    everything = np.arange(labels.size)
    logits = loaded.task.logits(loaded.model, dataset, everything, loaded.pipeline)
    before = Calibration(1.0, (0.0, 0.0)).probabilities(logits)[:, 1]  # the model's own (already calibrated) output
    where = f"the site set {dataset.name} ({fit.size} of its films)"
    refit, chosen = calibrate_classifier(labels[fit], logits[fit], where)
    after = refit.probabilities(logits)[:, 1]
    site = {"name": dataset.name, "fingerprint": dataset.fingerprint, "films": int(labels.size),
            "fit_films": int(fit.size), "check_films": int(check.size), "date": time.strftime("%Y-%m-%d"),
            "before": _figures(labels[check], before[check], loaded.threshold, seed),
            "after": _figures(labels[check], after[check], chosen["threshold"]["value"], seed)}
    record = chosen["calibration"] | {"on_top_of": loaded.card.calibration}
    card = loaded.card.replace(calibration=record, threshold=chosen["threshold"], site=site, created="",
                               note=f"recalibrated for {dataset.name} from {loaded.stored.name}")
    stored = save_model(fold_into(loaded.model, refit), card, out.parent, out.name, overwrite=overwrite)
    reliability = {name: calibration(labels[check], np.stack([1 - p[check], p[check]], axis=1), bins=ECE_BINS)
                   for name, p in (("before", before), ("after", after))}
    return Recalibrated(stored, site, reliability)
