"""Lungs on another hospital's films: anatomy models trained on one source against one trained on several with
partial labels (JSRT: both lungs and the heart; Shenzhen: the lung fields alone, split by side, the heart unknown).

Usage: python benchmarks/anatomy_sources.py --models models/cxr-anatomy models/cxr-lungs DIR... [--seed 0]

For each model: the two lungs together (right and left as one field) against the lung-field masks of the
``lung_shenzhen`` films of one split, outlined as the Diagnose page outlines them (``medlib.answers.diagnose``,
organ clean-up included), mean Dice with a 95% percentile bootstrap interval over films (2,000 resamples, seeded);
and each structure's Dice on the ``jsrt`` films of the same split (the model's input, ``evaluate_split``). The
splits are those a run with ``--seed`` makes (each set's own seeded 70/15/15 split): ``val`` is what a choice
between models may look at, ``test`` the final figure only. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from medlib.answers.diagnose import diagnose  # noqa: E402
from medlib.datasets import load_dataset  # noqa: E402
from medlib.models.loaded import open_model  # noqa: E402
from medlib.scoring.evaluate import evaluate_split  # noqa: E402


def _interval(values: list[float], seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    means = [float(np.mean(rng.choice(values, len(values)))) for _ in range(2000)]
    return [round(float(v), 4) for v in np.percentile(means, [2.5, 97.5])]


def lung_fields(loaded, films, index: np.ndarray, seed: int) -> dict:
    """The lungs together against each film's lung-field mask: mean Dice and its interval over ``index``."""
    dice = []
    for i in index:
        result = diagnose(films.images[i], segmenter=loaded)
        if result.label_map is not None and len(result.structures) > 1:
            names = [k + 1 for k, name in enumerate(result.structures) if "lung" in name]
            found = np.isin(result.label_map, names)
        else:  # a one-structure lung model
            found = np.asarray(result.lesion_probability) >= 0.5
        truth = np.asarray(films.masks[i]) > 0
        found = cv2.resize(found.astype(np.uint8), truth.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        total = found.sum() + truth.sum()
        dice.append(float(2 * np.logical_and(found, truth).sum() / total) if total else 1.0)
    return {"films": len(dice), "dice": round(float(np.mean(dice)), 4), "dice_ci": _interval(dice, seed)}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[str(ROOT / "models" / "cxr-anatomy")])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="val", choices=("val", "test"))
    args = parser.parse_args()
    shenzhen = load_dataset(SHARED / "lung_shenzhen", seed=args.seed)
    jsrt = load_dataset(SHARED / "jsrt", seed=args.seed)
    figures = {}
    for path in args.models:
        loaded = open_model(path)
        row = {"shenzhen lungs": lung_fields(loaded, shenzhen, shenzhen.indices(args.split), args.seed)}
        if len(loaded.card.structures) > 1:
            metrics = evaluate_split(loaded, jsrt, args.split, args.seed)
            row["jsrt"] = {name: metrics["per_structure"][name]["dice"] for name in metrics["per_structure"]}
        figures[Path(path).name] = row
        jsrt_part = ", ".join(f"{k} {v:.4f}" for k, v in row.get("jsrt", {}).items())
        lungs = row["shenzhen lungs"]
        print(f"{Path(path).name} ({args.split}): Shenzhen lungs Dice {lungs['dice']:.4f} {lungs['dice_ci']} on "
              f"{lungs['films']} films; JSRT {jsrt_part or '-'}", flush=True)
    print(json.dumps({"split": args.split, "seed": args.seed, "figures": figures}))
    return figures


if __name__ == "__main__":
    main()
