"""Training from disk: the memory of a run on a set larger than memory, and its speed beside the in-memory path.

Usage: python benchmarks/streaming.py [--films 50000] [--minutes 5] [--fits 3000] [--epochs 3]

1. **Speed.** A set that fits in memory (``--fits`` synthetic 256×256 8-bit films) trains the default classifier
   for ``--epochs`` epochs twice, each in a fresh process: held in memory (preprocessed once and cached), and
   read from its cache on disk (read and preprocessed again every epoch). The figure is the training images per
   second of the epochs after the first (the first fills the in-memory cache and traces the model), from the
   run's own per-batch progress.
2. **Memory.** ``python -m medlib cache phantom --n FILMS --size 256`` writes ``--films`` films to disk, then
   ``python -m medlib train --data DIR --max-minutes MINUTES`` trains the default classifier on them; the peak
   memory of the training process (PSS and RSS, sampled every 0.2 s) is the figure. Goal: under 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from app_memory import Sampler  # noqa: E402


def speed(data: str, epochs: int) -> dict:
    """Train the default classifier on ``data`` (the phantom in memory as 8-bit films, or a cache folder) and
    return the training images per second of each epoch."""
    from medlib.datasets import load_dataset
    from medlib.datasets.phantom import make_phantom
    from medlib.display.drawing import scale_to_uint8
    from medlib.training import TrainConfig, train

    if data.startswith("memory:"):
        dataset = make_phantom(int(data.split(":")[1]), size=256, seed=0)
        dataset.images = scale_to_uint8(dataset.images, 0.0, 1.0)
    else:
        dataset = load_dataset(data)
    rates: dict[int, float] = {}

    def progress(event: dict) -> None:
        if event["event"] == "batch":
            rates[event["epoch"]] = event["images_per_s"]

    out = Path(tempfile.mkdtemp(prefix="medlib-stream-")) / "model"
    train(TrainConfig(data="phantom", epochs=epochs, early_stopping=0), out, dataset=dataset, progress=progress)
    shutil.rmtree(out.parent, ignore_errors=True)
    return {"streamed": dataset.streamed, "images_per_s": [round(rates[e], 1) for e in sorted(rates)]}


def child(*args: str) -> dict:
    """Run this script's ``--child`` mode in a fresh process; its last line is the result."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(films: int, minutes: float, fits: int, epochs: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="medlib-streaming-"))
    figures: dict = {}
    try:
        subprocess.run([sys.executable, "-m", "medlib", "cache", "phantom", "--n", str(fits), "--size", "256",
                        "--out", str(work / "fits")], cwd=ROOT, check=True, capture_output=True)
        memory, disk = child(f"memory:{fits}", str(epochs)), child(str(work / "fits"), str(epochs))
        steady = {name: sum(r["images_per_s"][1:]) / len(r["images_per_s"][1:]) for name, r in
                  (("memory", memory), ("disk", disk))}
        figures["speed"] = {"films": fits, "epochs": epochs, "in_memory": memory["images_per_s"],
                            "from_disk": disk["images_per_s"], "ratio": round(steady["disk"] / steady["memory"], 3)}
        print(f"{fits} films, {epochs} epochs; training images/s per epoch: in memory {memory['images_per_s']}, "
              f"from disk {disk['images_per_s']}; after the first epoch, disk / memory = "
              f"{figures['speed']['ratio']:.3f} (goal ≥ 0.8)", flush=True)

        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "medlib", "cache", "phantom", "--n", str(films), "--size", "256",
                        "--out", str(work / "large")], cwd=ROOT, check=True, capture_output=True)
        written = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (work / "large").iterdir()) / 2**30
        print(f"wrote {films:,} films of 256×256 ({size:.2f} GiB) in {written:.0f} s", flush=True)
        run = subprocess.Popen([sys.executable, "-m", "medlib", "train", "--data", str(work / "large"),
                                "--out", str(work / "store" / "large"), "--max-minutes", str(minutes)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"})
        sampler = Sampler(run.pid)
        sampler.start()
        lines = [line.rstrip() for line in run.stdout]
        run.wait()
        sampler.done.set()
        sampler.join()
        result = json.loads(lines[-1])
        epochs_lines = [line for line in lines if line.startswith("epoch ")]
        figures["memory"] = {"films": films, "gib_on_disk": round(size, 2), "seconds_to_write": round(written),
                             "peak_pss_mib": sampler.peak["pss"], "peak_rss_mib": sampler.peak["rss"],
                             "epochs": len(epochs_lines), "ended": result["ended"],
                             "seconds": result["seconds"], "val_auc": result.get("val_auc")}
        print("\n".join(epochs_lines))
        print(f"training on {films:,} films from disk, {minutes} min budget: peak {sampler.peak['pss']:.0f} MiB PSS, "
              f"{sampler.peak['rss']:.0f} MiB RSS (goal < 1,536 MiB); ended by {result['ended']} after "
              f"{len(epochs_lines)} epoch(s); val AUC {result.get('val_auc')}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(speed(sys.argv[2], int(sys.argv[3]))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=50_000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--fits", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(main(args.films, args.minutes, args.fits, args.epochs)))
