"""Two ways of finding lung nodules on JSRT films, compared on the same out-of-fold predictions.

Usage: python benchmarks/nodule_localization.py --locate DIR --classify DIR [--data ../shared/data/jsrt]

- ``locate``: a U-Net that learned a probability map from the nodules' centres and sizes drawn as disks
  (``medlib train --task locate``); its candidates are the map's peaks.
- ``classify``: a classifier of the film (nodule or normal); its candidates are the peaks of its sharpened
  Grad-CAM heat map for the nodule class, each scored by the film's probability times the heat there.

Both models are cross-validated ensembles (``--folds K``) trained on the same folds of the same split (seed from
their cards): each film of train and validation is scored by the fold model that never saw it, as the run did.
Prints, per approach, the FROC points (sensitivity at 0.125 to 8 false positives per film, hit within the nodule's
radius plus 5 mm) and the film-level AUC with 95% bootstrap intervals, split by subtlety too, then one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from medlib.datasets import load_dataset  # noqa: E402
from medlib.models.ensemble import member_classifiers  # noqa: E402
from medlib.models.loaded import LoadedModel, open_model  # noqa: E402
from medlib.scoring.candidates import candidate_scores  # noqa: E402
from medlib.scoring.splits import pool  # noqa: E402
from medlib.targets import Finding  # noqa: E402
from medlib.training.folds import fold_numbers  # noqa: E402


def folds_of(loaded: LoadedModel, dataset) -> tuple[np.ndarray, np.ndarray, list]:
    """The run's training and validation films, the fold of each, and the fold models (as the card says)."""
    images = np.sort(np.concatenate([dataset.indices("train"), dataset.indices("val")]))
    folds = len(loaded.card.training["folds"])
    numbers = fold_numbers(dataset, images, folds, int(loaded.card.config["seed"]))
    members = member_classifiers(loaded.model) if loaded.card.located_by == "heat map" else \
        [layer for layer in loaded.model.layers if layer.name.startswith("fold")]
    return images, numbers, members


def oof(loaded: LoadedModel, dataset) -> tuple[list[list[Finding]], list, float | None, list[int]]:
    """Each film's candidates from the fold model that never saw it (the peaks of its map, or of its heat map for
    a classifier, weighed by its probability), its nodules, the spacing, and the films in that order: the same
    code as the run's own out-of-fold figures."""
    images, numbers, members = folds_of(loaded, dataset)
    label = loaded.card.finding
    parts = [loaded.task.outputs(members[k], dataset, images[numbers == k], loaded.pipeline, loaded.mirrors, label)
             for k in range(len(members))]
    outputs = pool(parts)
    return outputs.scored(label), outputs.findings[label], outputs.spacing, outputs.index.tolist()


def subtlety_of(data: Path) -> dict[str, str]:
    with open(data / "manifest.csv", newline="") as handle:
        return {Path(row["path"]).stem: row["subtlety"] for row in csv.DictReader(handle)}


SUBTLETY = {"subtle (1-3)": ("1", "2", "3"), "obvious (4-5)": ("4", "5")}
"""JSRT's subtlety (1 extremely subtle ... 5 obvious) in two groups, each scored with every film without a nodule."""


def by_subtlety(candidates: list, truths: list, spacing: float | None, films: list[int], dataset,
                subtlety: dict[str, str]) -> dict[str, dict]:
    out = {}
    for group, levels in SUBTLETY.items():
        keep = [k for k, i in enumerate(films) if not truths[k] or subtlety.get(dataset.ids[i]) in levels]
        out[group] = candidate_scores([candidates[k] for k in keep], [truths[k] for k in keep], spacing)
    return out


def show(name: str, detection: dict) -> None:
    points = "  ".join(f"{rate:g}: {sens:.3f} [{low:.2f}, {high:.2f}]" for rate, sens, low, high in detection["froc"])
    auc = "–" if "image_auc" not in detection else \
        f"{detection['image_auc']:.3f} [{detection['image_auc_ci'][0]:.3f}, {detection['image_auc_ci'][1]:.3f}]"
    print(f"{name:10s} {detection['findings']} nodules on {detection['images']} films; sensitivity at FP/film "
          f"{points}; film AUC {auc}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locate", required=True)
    parser.add_argument("--classify", required=True)
    parser.add_argument("--data", default=str(SHARED / "jsrt"))
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    subtlety = subtlety_of(Path(args.data))
    results = {}
    for name, folder in (("locate", args.locate), ("classify", args.classify)):
        candidates, truths, spacing, films = oof(open_model(folder), dataset)
        results[name] = candidate_scores(candidates, truths, spacing)
        show(name, results[name])
        for group, detection in by_subtlety(candidates, truths, spacing, films, dataset, subtlety).items():
            show(f"  {group}", detection)
            results[f"{name} {group}"] = detection
    print(json.dumps({name: {k: v for k, v in d.items() if k != "froc"} for name, d in results.items()}))


if __name__ == "__main__":
    main()
