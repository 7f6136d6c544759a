"""The films that teach a model to tell a child's chest film from an adult's, as one data set in the manifest
layout (hard links to the files of ``../shared/data`` where the disk allows, else copies, in a folder outside the
repository: a data set's files must lie inside its folder): children from ``chest_xray_224`` (ages 1 to 5, one
hospital in Guangzhou), adults from ``jsrt`` (Japan), ``lung_shenzhen`` (China) and ``lidc_drr`` (radiographs
computed from CT, the USA). Splits by patient (70/15/15, seeded), each source split alike, so every figure can be
read per source.

Usage: python benchmarks/age_films.py --out DIR [--seed 0]
Then:  python -m medlib train --data DIR --out models/cxr-age --about specs/cxr-age.about.json --task classify
       --fit stretch --max-minutes 10
Prints the counts per source and split; last, one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SHARES = (0.70, 0.15, 0.15)


def _films(shared: Path) -> list[dict[str, str]]:
    """Every film with its age group, source and patient."""
    films = []
    with open(shared / "chest_xray_224" / "manifest.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            films.append({"file": str(shared / "chest_xray_224" / row["path"]), "label": "child",
                          "source": "chest_xray_224", "patient": f"cx-{row['patient_id']}"})
    for source, pattern in (("jsrt", "images/*.png"), ("lung_shenzhen", "images/*.png"),
                            ("lidc_drr", "images/*.png")):
        for path in sorted((shared / source).glob(pattern)):
            patient = path.stem.rsplit("_", 1)[0] if source == "lidc_drr" else path.stem
            films.append({"file": str(path), "label": "adult", "source": source, "patient": f"{source}-{patient}"})
    return films


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    films = _films(SHARED)
    rng = np.random.default_rng(args.seed)
    splits: dict[str, str] = {}
    for source in sorted({f["source"] for f in films}):
        patients = sorted({f["patient"] for f in films if f["source"] == source})
        order = [patients[k] for k in rng.permutation(len(patients))]
        cut = np.cumsum([round(share * len(order)) for share in SHARES[:2]])
        for k, patient in enumerate(order):
            splits[patient] = "train" if k < cut[0] else "val" if k < cut[1] else "test"
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for number, film in enumerate(films):
        link = args.out / "images" / f"{film['source']}-{number:05d}{Path(film['file']).suffix}"
        if not link.exists():
            try:
                os.link(film["file"], link)
            except OSError:  # another disk
                shutil.copyfile(film["file"], link)
        rows.append({"path": f"images/{link.name}", "label": film["label"], "patient_id": film["patient"],
                     "split": splits[film["patient"]], "source": film["source"]})
    with open(args.out / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    counts = Counter((row["source"], row["split"]) for row in rows)
    for (source, split), count in sorted(counts.items()):
        print(f"{source:16s} {split:5s} {count}")
    print(json.dumps({"out": str(args.out), "films": len(rows),
                      "counts": {f"{s}/{p}": c for (s, p), c in sorted(counts.items())}}))


if __name__ == "__main__":
    main()
