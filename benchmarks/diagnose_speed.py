"""How long the Diagnose page waits for the models: one image through the shipped classifier
(with its Grad-CAM) and lesion segmenter, after both are loaded.

Usage: python benchmarks/diagnose_speed.py [--repeats 20]
Prints the median and worst seconds per image for a 256×256 and a 1024×1024 film; last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medlib.diagnose import diagnose  # noqa: E402
from medlib.inference import open_model  # noqa: E402
from medlib.phantom import make_phantom  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    classifier = open_model(ROOT / "models" / "chest-classifier")
    segmenter = open_model(ROOT / "models" / "chest-lesions")
    figures = {"load_s": round(time.perf_counter() - started, 2)}
    print(f"both models loaded in {figures['load_s']} s")
    for size in (256, 1024):
        film = make_phantom(3, size=size, seed=3).images[1]
        diagnose(film, classifier, segmenter)  # the first call builds the graphs
        times = [diagnose(film, classifier, segmenter).seconds for _ in range(args.repeats)]
        figures[f"median_s_{size}"] = round(statistics.median(times), 3)
        figures[f"worst_s_{size}"] = round(max(times), 3)
        print(f"{size}×{size}: median {figures[f'median_s_{size}']} s, worst {figures[f'worst_s_{size}']} s per image")
    print(json.dumps(figures))
