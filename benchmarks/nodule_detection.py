"""A nodule model's FROC on JSRT films, overall and by subtlety and size.

Usage: python benchmarks/nodule_detection.py --model DIR [--split val|test] [--data ../shared/data/jsrt]

The model's candidates on each film of the split (as ``medlib evaluate`` makes them) against the nodules: the
sensitivity at 1/8 to 8 false positives per film, their mean (CPM) and the film-level AUC, each with a 95% bootstrap
interval over films; then the same for the films whose nodule is subtle (subtlety 1-3) or obvious (4-5), small
(under 15 mm) or large, each group beside every normal film of the split (as the field reports subgroups). Prints a
table, then one JSON line.
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
from medlib.models.loaded import open_model  # noqa: E402
from medlib.scoring.candidates import FP_RATES, candidate_scores  # noqa: E402


def groups(data: Path, ids: list[str]) -> dict[str, list[bool]]:
    """Per film (in ``ids``' order): whether its nodule is in each group (normal films are in none)."""
    with open(data / "manifest.csv", newline="") as handle:
        rows = {Path(row["path"]).stem: row for row in csv.DictReader(handle)}
    facts = [rows[Path(i).stem] for i in ids]
    nodule = [row["label"] == "nodule" for row in facts]

    def where(test) -> list[bool]:
        return [n and test(row) for n, row in zip(nodule, facts, strict=True)]

    return {"subtle (1-3)": where(lambda r: int(r["subtlety"]) <= 3),
            "obvious (4-5)": where(lambda r: int(r["subtlety"]) >= 4),
            "under 15 mm": where(lambda r: float(r["size_mm"]) < 15),
            "15 mm or more": where(lambda r: float(r["size_mm"]) >= 15)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--data", default=str(SHARED / "jsrt"))
    args = parser.parse_args()
    loaded = open_model(args.model)
    dataset = load_dataset(args.data, seed=int(loaded.card.config.get("seed", 0)))
    index = dataset.indices(args.split)
    outputs = loaded.task.outputs(loaded.model, dataset, index, loaded.pipeline, loaded.mirrors, loaded.card.finding)
    label = next(iter(outputs.candidates))
    found, truth = outputs.scored(label, loaded.image_calibration), outputs.findings[label]
    chosen = groups(Path(args.data), [dataset.ids[i] for i in index])
    normal = [not t for t in truth]
    result = {"model": loaded.stored.name, "split": args.split, "films": len(index),
              "all": candidate_scores(found, truth, outputs.spacing, seed=0)}
    for name, inside in chosen.items():
        keep = [k for k in range(len(index)) if inside[k] or normal[k]]
        result[name] = candidate_scores([found[k] for k in keep], [truth[k] for k in keep], outputs.spacing, seed=0)
    print(f"{loaded.stored.name} on the {args.split} films of {Path(args.data).name} ({len(index)} films)")
    print(f"{'films':<16}{'nodules':>8}" + "".join(f"{f'@{r:g}':>8}" for r in FP_RATES) + f"{'CPM':>7}{'AUC':>7}")
    for name, figures in result.items():
        if not isinstance(figures, dict):
            continue
        cpm = float(np.mean([p[1] for p in figures["froc"]]))
        figures["cpm"] = round(cpm, 4)
        print(f"{name:<16}{figures['findings']:>8}" + "".join(f"{p[1]:>8.2f}" for p in figures["froc"])
              + f"{cpm:>7.2f}{figures.get('image_auc', float('nan')):>7.2f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
