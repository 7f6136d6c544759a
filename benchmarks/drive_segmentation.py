"""U-Net vessel segmentation on DRIVE, by the documented CLI commands, against the published U-Net.

Usage: python benchmarks/drive_segmentation.py [--minutes 15] [--out /tmp/drive-unet]

Trains with at most ``--minutes`` of training (2 CPU cores on our machines) on the
20 official training images (3 held out for validation), on random 64×64 patches
of green-channel, CLAHE-equalised full-resolution images (benchmarks/specs/drive_preprocess.json),
with flips, elastic, brightness/contrast and gamma (benchmarks/specs/drive_augment.json),
then scores the 20 official test images in overlapping tiles, inside the field of
view, against 1st_manual. Published (Alom et al. 2018): U-Net Dice/F1 0.8142, AUC 0.9755.
Prints the two commands, their output's last line, and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medlib_cli import run

ROOT = Path(__file__).resolve().parents[1]
DRIVE = ROOT.parent / "shared" / "data" / "DRIVE"
PUBLISHED = {"unet_dice": 0.8142, "unet_auc": 0.9755, "sa_unet_dice": 0.8263}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--out", default="/tmp/drive-unet")
    args = parser.parse_args()
    if not DRIVE.is_dir():
        sys.exit(f"DRIVE is not at {DRIVE}; see ../shared/data/README.md")
    trained = run("train", "--data", str(DRIVE), "--task", "segment",
                  "--preprocess", "benchmarks/specs/drive_preprocess.json",
                  "--augment", "benchmarks/specs/drive_augment.json", "--patch-size", "64", "--patches-per-image", "64",
                  "--epochs", "200", "--max-minutes", str(args.minutes), "--out", args.out, "--overwrite",
                  show=True)
    scored = run("evaluate", "--model", args.out, "--data", str(DRIVE), "--split", "test", show=True)
    figures = {name: scored[name] for name in ("dice", "iou", "sensitivity", "specificity", "hd95", "auc")}
    figures |= {f"{name}_ci": scored[f"{name}_ci"] for name in ("dice", "auc")}
    figures |= {"train_s": trained["seconds"], "epochs": trained["epochs"], "ended": trained["ended"], **PUBLISHED,
                "dice_vs_unet": round(scored["dice"] / PUBLISHED["unet_dice"], 4)}
    print(json.dumps(figures))
