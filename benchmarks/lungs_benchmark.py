"""The shipped lung segmenter on its own test split, and on the same films changed as another hospital's might be.

Usage: python benchmarks/lungs_benchmark.py [--model models/cxr-lungs]

No films of another hospital with lung masks are here; this shows how the Dice holds when the test films of
lung_shenzhen (split seed 0, as the model's card) are darker or lighter (gamma), flatter, blurred, noisier, stored
in 16 bits, turned, or framed wider (the lungs smaller in the picture, the margin filled black). Dice and pixel AUC
at the model's input geometry, with 95% bootstrap intervals over the films. Prints a line per variant and, last,
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from medlib.datasets import Dataset, load_dataset  # noqa: E402
from medlib.models.loaded import open_model  # noqa: E402
from medlib.models.predict import segment_maps  # noqa: E402
from medlib.scoring.segmentation import split_metrics  # noqa: E402

Change = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _affine(image: np.ndarray, mask: np.ndarray, angle: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    height, width = mask.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    turned = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    return turned, cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_NEAREST, borderValue=0)


VARIANTS: dict[str, Change] = {
    "as they are": lambda i, m: (i, m),
    "darker (gamma 1.6)": lambda i, m: (255.0 * (i / 255.0) ** 1.6, m),
    "lighter (gamma 0.6)": lambda i, m: (255.0 * (i / 255.0) ** 0.6, m),
    "flatter (contrast ×0.6)": lambda i, m: (128.0 + 0.6 * (i - 128.0), m),
    "blurred (σ 2 px)": lambda i, m: (cv2.GaussianBlur(i, (0, 0), 2.0), m),
    "noisier (σ 8 gray levels)": lambda i, m: (np.clip(i + np.random.default_rng(0).normal(0, 8, i.shape), 0, 255),
                                               m),
    "16-bit": lambda i, m: (i * 257.0, m),
    "turned 7°": lambda i, m: _affine(i, m, 7.0, 1.0),
    "framed wider (lungs at 80%)": lambda i, m: _affine(i, m, 0.0, 0.8),
}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "cxr-lungs"))
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return {}
    loaded = open_model(args.model)
    films = load_dataset(SHARED / "lung_shenzhen")
    test = films.indices("test")
    figures = {}
    for name, change in VARIANTS.items():
        pairs = [change(films.images[i, ..., 0].astype(np.float32), films.masks[i]) for i in test]
        changed = Dataset(name, np.stack([p[0] for p in pairs])[..., None], np.array(["test"] * len(pairs)),
                          [films.ids[i] for i in test], masks=np.stack([p[1] for p in pairs]).astype(np.uint8))
        scores = split_metrics(*segment_maps(loaded.model, changed, np.arange(len(pairs)), loaded.pipeline,
                                             loaded.mirrors))
        figures[name] = {"dice": scores["dice"], "dice_ci": scores["dice_ci"], "auc": scores["auc"]}
        print(f"{name}: Dice {scores['dice']:.4f} {scores['dice_ci']}, pixel AUC {scores['auc']:.4f}", flush=True)
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
