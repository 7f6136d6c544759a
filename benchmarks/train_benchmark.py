"""The default training recipe against the seed article's CNN, side by side in the same run.

Usage: python benchmarks/train_benchmark.py [--only pneumonia|phantom|drive-patches] [--seeds 0 1 2]

- PneumoniaMNIST (../shared/data/pneumoniamnist_28.npz, official test split): the
  default recipe with a 5-minute training budget, and the seed article's CNN
  (../shared/bench/seed_baseline.py cnn).
- The built-in synthetic set (900 films, 3 classes): the default recipe and seed-cnn.
- DRIVE vessel patches: a real RGB set made here from ../shared/data/DRIVE, 32×32
  patches labelled by whether their centre pixel is a vessel (training images for
  train/val, test images for test): the default recipe and the seed CNN.

The default recipe is the same for every set; it picks its settings from the data.
With several --seeds, PneumoniaMNIST is trained once per seed (the goal must hold in every run),
and the JSON line also gives the mean and the worst of them.
Prints a line per run and, last, one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"

from medlib.datasets import Dataset, load_dataset  # noqa: E402
from medlib.training import TrainConfig, train  # noqa: E402


def run_ours(dataset: Dataset, store: Path, name: str, **settings) -> dict:
    start = time.perf_counter()
    result = train(TrainConfig(**settings), store / name, dataset=dataset)
    test = result.metrics["test"]
    seconds = round(time.perf_counter() - start, 1)
    training = result.stored.card.training
    return {"auc": round(test["auc"], 4), "accuracy": round(test["accuracy"], 4), "train_s": seconds,
            "epochs": len(result.history), "kept_epoch": training["kept_epoch"], "best_epoch": training["best_epoch"],
            "ended": result.ended}


def run_seed_script(npz: Path) -> dict:
    script = SHARED / "bench" / "seed_baseline.py"
    out = subprocess.run([sys.executable, str(script), "cnn", str(npz)], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return {"auc": figures["test_auc"], "accuracy": figures["test_acc"], "train_s": figures["train_s"]}


def drive_patches(folder: Path, per_image: int = 300, side: int = 32, seed: int = 0) -> Dataset:
    """A real classification set from DRIVE: is the centre of a 32×32 patch a vessel? (inside the field of view)"""
    drive = load_dataset(folder)
    rng = np.random.default_rng(seed)
    half = side // 2
    images, labels, split = [], [], []
    for i in range(len(drive)):
        image = np.pad(drive.images[i], ((half, half), (half, half), (0, 0)))
        ys, xs = np.nonzero(drive.fov[i])
        for k in rng.choice(ys.size, per_image, replace=False):
            y, x = ys[k], xs[k]
            images.append(image[y : y + side, x : x + side])
            labels.append(int(drive.masks[i, y, x]))
            split.append(drive.split[i])
    split = np.array(split)
    train = np.flatnonzero(split == "train")
    val = rng.choice(train, train.size // 6, replace=False)
    split[val] = "val"
    return Dataset("DRIVE vessel patches", np.stack(images), split, [f"p{k}" for k in range(len(images))],
                   labels=np.array(labels), class_names=["background", "vessel"])


def to_npz(dataset: Dataset, path: Path) -> Path:
    arrays = {}
    for s in ("train", "val", "test"):
        index = dataset.indices(s)
        images = dataset.images[index]
        arrays[f"{s}_images"] = np.clip(images, 0, 255).astype(np.uint8).squeeze(-1 if images.shape[-1] == 1 else ())
        arrays[f"{s}_labels"] = dataset.labels[index].reshape(-1, 1)
    np.savez(path, **arrays)
    return path


def summary(runs: list[dict]) -> dict:
    """Mean and worst test AUC and accuracy over runs."""
    return {f"{stat}_{key}": round(float(fn([r[key] for r in runs])), 4)
            for key in ("auc", "accuracy") for stat, fn in (("mean", np.mean), ("min", np.min))}


def main(only: str | None, seeds: list[int]) -> dict:
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder)
        pneumonia = SHARED / "data" / "pneumoniamnist_28.npz"
        if only in (None, "pneumonia") and pneumonia.is_file():
            dataset = load_dataset(pneumonia)
            runs = []
            for seed in seeds:
                runs.append(run_ours(dataset, store, f"pneumonia-{seed}", max_minutes=5.0, seed=seed))
                print(f"pneumonia_ours seed {seed}: {runs[-1]}", flush=True)
            figures["pneumonia_ours"] = runs[0] if len(runs) == 1 else {"seeds": seeds, "runs": runs, **summary(runs)}
            figures["pneumonia_seed_cnn"] = run_seed_script(pneumonia)
        if only in (None, "phantom"):
            dataset = load_dataset("phantom", n=900)
            figures["phantom_ours"] = run_ours(dataset, store, "phantom", max_minutes=5.0)
            figures["phantom_seed_cnn"] = run_ours(dataset, store, "phantom-seed", model="seed-cnn", epochs=10,
                                                   class_weighting="none", early_stopping=0,
                                                   augment={"steps": []}, learning_rate=1e-3,
                                                   schedule="constant", optimizer="adam")
        drive = SHARED / "data" / "DRIVE"
        if only in (None, "drive-patches") and drive.is_dir():
            dataset = drive_patches(drive)
            figures["drive_patches_ours"] = run_ours(dataset, store, "drive", max_minutes=5.0)
            figures["drive_patches_seed_cnn"] = run_seed_script(to_npz(dataset, store / "drive.npz"))
    for name, result in figures.items():
        print(f"{name}: {result}", flush=True)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["pneumonia", "phantom", "drive-patches"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="PneumoniaMNIST: one run per seed")
    args = parser.parse_args()
    print(json.dumps(main(args.only, args.seeds)))
