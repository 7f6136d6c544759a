"""The shipped anatomy model on its own test split: Dice and HD95 per structure, and the cardiothoracic ratio from
its outlines against the one the reference masks give.

Usage: python benchmarks/anatomy_benchmark.py [--model models/cxr-anatomy] [--data ../shared/data/jsrt]

The test split is the one ``medlib`` makes with the card's seed (held out of training). The ratio is measured as
:mod:`medlib.answers.anatomy` does, on the label map brought back onto each film. Prints the figures with 95% bootstrap
intervals over films, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from medlib.answers.anatomy import cardiothoracic_ratio  # noqa: E402
from medlib.answers.diagnose import diagnose  # noqa: E402
from medlib.datasets import load_dataset  # noqa: E402
from medlib.models.loaded import open_model  # noqa: E402
from medlib.scoring.classification import resample_weights  # noqa: E402
from medlib.scoring.evaluate import evaluate_split  # noqa: E402


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "cxr-anatomy"))
    parser.add_argument("--data", default=str(SHARED / "jsrt"))
    args = parser.parse_args()
    loaded = open_model(args.model)
    dataset = load_dataset(args.data, seed=int(loaded.card.config["seed"]))
    metrics = evaluate_split(loaded, dataset, "test")
    figures = {"films": metrics["n"], "dice_per_structure": metrics["dice_per_structure"],
               "hd95_px_per_structure": metrics["hd95_per_structure"]}
    for name, values in metrics["per_structure"].items():
        print(f"{name:11s} Dice {values['dice']:.4f} [{values['dice_ci'][0]:.4f}, {values['dice_ci'][1]:.4f}]  "
              f"HD95 {values['hd95']:.2f} px [{values['hd95_ci'][0]:.2f}, {values['hd95_ci'][1]:.2f}]")
    differences, references, withheld = [], [], 0
    for i in dataset.indices("test"):
        reference = cardiothoracic_ratio(dataset.masks[i], dataset.structures)["cardiothoracic_ratio"]
        found = diagnose(dataset.images[i], segmenter=loaded).measurements.get("cardiothoracic_ratio")
        if found is None:  # an outline called unreliable: no ratio is given
            withheld += 1
            continue
        differences.append(found - reference)
        references.append(reference)
    figures["ctr_withheld_films"] = withheld
    absolute = np.abs(differences)
    boot = resample_weights(absolute.size, 1000, 0)
    medians = [np.median(np.repeat(absolute, row.astype(int))) for row in boot]
    figures |= {"ctr_median_abs_difference": round(float(np.median(absolute)), 4),
                "ctr_median_abs_difference_ci": [round(float(v), 4) for v in np.percentile(medians, [2.5, 97.5])],
                "ctr_mean_difference": round(float(np.mean(differences)), 4),
                "ctr_within_0.02": round(float(np.mean(absolute <= 0.02)), 3),
                "ctr_reference_median": round(float(np.median(references)), 3)}
    print(f"cardiothoracic ratio, |outlines − reference| on {absolute.size} films: median "
          f"{figures['ctr_median_abs_difference']:.4f} {figures['ctr_median_abs_difference_ci']}, mean difference "
          f"{figures['ctr_mean_difference']:+.4f}, within 0.02 on {figures['ctr_within_0.02']:.0%} of films")
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
