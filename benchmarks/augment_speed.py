"""How fast the playground's grid is made: 16 augmented variants of one 256×256 film with its mask.

Usage: python benchmarks/augment_speed.py
Prints one line per spec and, last, one JSON line with milliseconds per grid.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medlib.augment import TRANSFORMS, default_augmenter, make_augmenter  # noqa: E402
from medlib.datasets.phantom import make_phantom  # noqa: E402


def grid_ms(augmenter, image, mask, repeats: int = 5) -> float:
    best = float("inf")
    for seed in range(repeats):
        start = time.perf_counter()
        augmenter.variants(image, mask, n=16, seed=seed)
        best = min(best, time.perf_counter() - start)
    return best * 1000


if __name__ == "__main__":
    films = make_phantom(3, size=256)
    image, mask = films.images[1], films.masks[1]
    specs = {
        "chest_default": default_augmenter("chest"),
        "fundus_default": default_augmenter("fundus"),
        "all_13_transforms_p1": make_augmenter(*[(name, {"p": 1.0}) for name in TRANSFORMS]),
    }
    figures = {}
    for name, augmenter in specs.items():
        figures[f"{name}_ms"] = round(grid_ms(augmenter, image, mask), 1)
        print(f"{name}: 16 variants of 256x256 in {figures[f'{name}_ms']} ms")
    print(json.dumps(figures))
