"""How well the age model tells a child's chest film from an adult's, per source, on one split of the set
``benchmarks/age_films.py`` builds (the films of each source are split by patient alike).

Usage: python benchmarks/age_benchmark.py --model models/cxr-age --data DIR [--split test]
Prints, per source, the films and the share given their true group with its 95% Wilson interval, and the films
given the wrong one; last, one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medlib.gate.population import film_age  # noqa: E402
from medlib.input import read_image  # noqa: E402
from medlib.models.loaded import open_model  # noqa: E402
from medlib.scoring.detectability import wilson  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "cxr-age"))
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--split", default="test", choices=("val", "test"))
    args = parser.parse_args()
    model = open_model(args.model)
    with open(args.data / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == args.split]
    found: dict[str, list[bool]] = {}
    for row in rows:
        image = read_image(args.data / row["path"])
        age = film_age(image.data[0], {}, model)
        found.setdefault(row["source"], []).append(age is not None and age.group == row["label"])
    out = {}
    for source, right in sorted(found.items()):
        low, high = wilson(sum(right), len(right))
        out[source] = {"films": len(right), "right": round(sum(right) / len(right), 4), "ci": [round(low, 4),
                                                                                             round(high, 4)],
                       "wrong": len(right) - sum(right)}
        print(f"{source:16s} {len(right):5d} films  right {sum(right) / len(right):.4f} [{low:.4f}, {high:.4f}]  "
              f"wrong {len(right) - sum(right)}")
    print(json.dumps({"benchmark": "age", "model": Path(args.model).name, "split": args.split, "sources": out}))


if __name__ == "__main__":
    main()
