"""Where the shipped models find the lesions of synthetic chest films they never saw.

Usage: python benchmarks/localization_benchmark.py [--n 300] [--seed 0]
Measures, on the test split of a fresh synthetic set (seed 0; the models were
trained on seed 1): the classifier's pointing game and heat-map IoU on lesion
images with each explanation method (sharpened Grad-CAM, Grad-CAM, Grad-CAM++),
and the lesion segmenter's Dice, IoU, HD95 and pixel AUC on all test images and
on those with a lesion (a normal film scores Dice 1 when nothing is found).
Prints one line per figure and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medlib.datasets.phantom import make_phantom  # noqa: E402
from medlib.models.heatmaps import METHODS  # noqa: E402
from medlib.models.loaded import open_model, write_explanations  # noqa: E402
from medlib.models.predict import segment_maps  # noqa: E402
from medlib.scoring.segmentation import split_metrics  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = make_phantom(args.n, size=128, seed=args.seed)
    classifier = open_model(ROOT / "models" / "chest-classifier")
    segmenter = open_model(ROOT / "models" / "chest-lesions")
    figures = {"images": int(data.indices("test").size)}
    with tempfile.TemporaryDirectory() as out:
        for method in METHODS:
            scores = write_explanations(classifier, data, "test", Path(out), method=method, limit=1)
            figures[f"{method}_pointing_game"] = scores["pointing_game"]
            figures[f"{method}_heatmap_iou"] = scores["heatmap_iou"]
            figures["lesion_images"] = scores["n_lesions"]
            print(f"{method}: pointing game {scores['pointing_game']}, heat-map IoU {scores['heatmap_iou']} "
                  f"on {scores['n_lesions']} lesion images")
    test = data.indices("test")
    for subset, index in (("all", test), ("lesion", test[data.masks[test].any(axis=(1, 2))])):
        seg = split_metrics(*segment_maps(segmenter.model, data, index, segmenter.pipeline, segmenter.mirrors))
        for name in ("dice", "iou", "hd95", "auc"):
            figures[f"segmenter_{subset}_{name}"] = seg[name]
            figures[f"segmenter_{subset}_{name}_ci"] = seg[f"{name}_ci"]
        print(f"segmenter, {subset} test images ({seg['n']}): Dice {seg['dice']} {seg['dice_ci']}, IoU {seg['iou']}, "
              f"HD95 {seg['hd95']} px, pixel AUC {seg['auc']}")
    print(json.dumps(figures))
