"""Does the anatomy model know when its outline is unreliable? The share of films whose lung or heart outline the
plausibility checks call unreliable, on its own test films, on another hospital's films and on children's films,
and, where the set has lung masks, the lungs' Dice of the films called unreliable against the others.

Usage: python benchmarks/plausibility_benchmark.py [--model models/cxr-anatomy] [--children 100]

The checks (``medlib.scoring.plausibility``: present, largest piece at least 80% of the outline, area and centre
within the training films' 1st-99th percentiles widened by a quarter) were fixed before this was run; no figure
here chose them. Sets: ``jsrt`` test split (the card's seed; held out of training), all 59 ``lung_shenzhen`` films
(another hospital, both lungs as one mask), and ``--children`` films of the ``chest_xray_224`` test split (children,
not the model's population). Prints the figures, then one JSON line.
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

from medlib.answers.anatomy import ANATOMY  # noqa: E402
from medlib.answers.diagnose import diagnose  # noqa: E402
from medlib.datasets import load_dataset  # noqa: E402
from medlib.models.loaded import open_model  # noqa: E402


def _dice(found: np.ndarray, truth: np.ndarray) -> float:
    total = found.sum() + truth.sum()
    return float(2 * np.logical_and(found, truth).sum() / total) if total else 1.0


def judged(loaded, dataset, index: np.ndarray, lungs_mask: bool) -> dict:
    """Films whose anatomy is called unreliable, by structure, and (``lungs_mask``) the lungs' Dice of each group."""
    unreliable, by_structure, dice = 0, dict.fromkeys(ANATOMY, 0), {"unreliable": [], "plausible": []}
    for i in index:
        result = diagnose(dataset.images[i], segmenter=loaded)
        flagged = [name for name in ANATOMY if name in result.unreliable]
        unreliable += bool(flagged)
        for name in flagged:
            by_structure[name] += 1
        if lungs_mask:
            lungs = np.isin(result.label_map, [1, 2])
            truth = np.asarray(dataset.masks[i]) > 0
            if lungs.shape != truth.shape:
                lungs = cv2.resize(lungs.astype(np.uint8), truth.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
            dice["unreliable" if any(n in flagged for n in ANATOMY[:2]) else "plausible"].append(_dice(lungs, truth))
    out = {"films": int(index.size), "unreliable": unreliable, "share": round(unreliable / max(index.size, 1), 3),
           "by_structure": by_structure}
    if lungs_mask:
        out["lung_dice"] = {group: {"films": len(values), "mean": round(float(np.mean(values)), 4) if values else None}
                            for group, values in dice.items()}
    return out


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "cxr-anatomy"))
    parser.add_argument("--children", type=int, default=100)
    args = parser.parse_args()
    loaded = open_model(args.model)
    seed = int(loaded.card.config["seed"])
    figures = {}
    jsrt = load_dataset(SHARED / "jsrt", seed=seed)
    figures["jsrt test (its own films)"] = judged(loaded, jsrt, jsrt.indices("test"), False)
    shenzhen = load_dataset(SHARED / "lung_shenzhen", seed=seed)
    figures["lung_shenzhen (another hospital)"] = judged(loaded, shenzhen, np.arange(len(shenzhen)), True)
    children = load_dataset(SHARED / "chest_xray_224", seed=seed)
    test = children.indices("test")
    picks = test[np.linspace(0, test.size - 1, min(args.children, test.size)).astype(int)]
    figures["chest_xray_224 test (children)"] = judged(loaded, children, picks, False)
    for name, values in figures.items():
        line = (f"{name}: {values['unreliable']} of {values['films']} films called unreliable "
                f"({values['share']:.0%}); ") + ", ".join(f"{k} {v}" for k, v in values["by_structure"].items())
        if "lung_dice" in values:
            line += "; lungs' Dice " + ", ".join(f"{g} {v['mean']} ({v['films']} films)"
                                                 for g, v in values["lung_dice"].items())
        print(line)
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
