"""Throughput of the default preprocessing pipeline against the seed article's preprocess_image.

Usage: python benchmarks/preprocess_speed.py
Both run in this process's run on the same machine: 20 images of 2048×2048
16-bit (values 0..4095), as in ../shared/bench/seed_baseline.py. Prints, last,
one JSON line with images_per_s, seed_images_per_s and ratio_vs_seed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEED = ROOT.parent / "shared" / "bench" / "seed_baseline.py"

from medlib.preprocessing.pipeline import Pipeline, default_pipeline, make_pipeline  # noqa: E402

#: A heavier pipeline, for scale: the default plus CLAHE and a Gaussian denoise.
HEAVY = make_pipeline(("resize", {"height": 256}), "window", "equalize", "denoise")


def ours(pipeline: Pipeline, side: int = 2048, n: int = 20, repeats: int = 3) -> float:
    """Images per second of ``pipeline`` (best of ``repeats`` passes)."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 4096, (side, side), dtype=np.uint16) for _ in range(n)]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for image in images:
            pipeline.apply(image)
        best = min(best, time.perf_counter() - start)
    return n / best


def seed() -> float | None:
    """Images per second of the seed article's pipeline, run as its own script."""
    if not SEED.is_file():
        print(f"seed baseline skipped: {SEED} is absent")
        return None
    result = subprocess.run([sys.executable, str(SEED), "preprocess"], capture_output=True, text=True, check=True)
    return float(json.loads(result.stdout.strip().splitlines()[-1])["images_per_s"])


if __name__ == "__main__":
    mine = ours(default_pipeline())
    print(f"default pipeline ({' → '.join(n for n, _ in default_pipeline().steps)}): {mine:.1f} images/s")
    heavy = ours(HEAVY)
    print(f"heavier pipeline ({' → '.join(n for n, _ in HEAVY.steps)}): {heavy:.1f} images/s")
    theirs = seed()
    if theirs is not None:
        print(f"seed preprocess_image: {theirs:.2f} images/s")
    print(json.dumps({
        "side": 2048,
        "images_per_s": round(mine, 2),
        "seed_images_per_s": theirs,
        "ratio_vs_seed": round(mine / theirs, 1) if theirs else None,
        "heavy_images_per_s": round(heavy, 2),
    }))
