"""Peak memory of reading real films into a data set: chest_xray_224, and 1,000 full-size films of many sizes.

Usage: python benchmarks/dataset_memory.py [--films 1000] [--repo DIR]

The full-size films are made here from chest_xray_224's films (enlarged to random sizes of 1,500-3,000 pixels a
side, portrait and landscape, saved as JPEG in a temporary folder of class folders). Each data set is read by
``python -m medlib info`` in a fresh process, whose peak resident memory (``ru_maxrss``) is reported.
``--repo`` runs the command from another checkout (an older commit, for the figure before a change).
Prints one line per data set and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def full_size_films(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` JPEG films of random full sizes, in class folders under ``folder``."""
    rng = np.random.default_rng(seed)
    sources = sorted((SHARED / "chest_xray_224" / "images").glob("*/*.jpeg"))
    picks = rng.choice(len(sources), size=count, replace=count > len(sources))
    for n, k in enumerate(picks):
        source = sources[int(k)]
        film = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)
        height, width = (int(v) for v in rng.integers(1500, 3001, 2))
        (folder / source.parent.name).mkdir(parents=True, exist_ok=True)
        big = cv2.resize(film, (width, height), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / source.parent.name / f"{n:04d}.jpeg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return folder


def peak_of_info(path: Path, repo: Path) -> tuple[float, float, dict]:
    """(peak resident MiB, seconds, summary) of ``python -m medlib info PATH`` run in a fresh process."""
    code = ("import json, resource, sys, time; t = time.perf_counter(); from medlib.datasets import load_dataset; "
            "s = load_dataset(sys.argv[1]).summary(); "
            "print(json.dumps({'peak': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "
            "'seconds': time.perf_counter() - t, 'size': s['image_size'], 'images': s['images'], "
            "'notes': s['notes'], 'dtype': s.get('dtype', 'float32')}))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=repo, capture_output=True, text=True,
                          check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["peak"], result["seconds"], result


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=1000, help="full-size films to make (default 1000)")
    parser.add_argument("--repo", default=str(ROOT), help="the checkout whose medlib reads the data")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return {}
    repo = Path(args.repo)
    figures: dict = {}
    peak, seconds, summary = peak_of_info(SHARED / "chest_xray_224", repo)
    print(f"chest_xray_224: {summary['images']} films of {summary['size']} ({summary['dtype']}) in {seconds:.1f} s, "
          f"peak {peak:.0f} MiB")
    figures["chest_xray_224"] = {"peak_mib": round(peak), "seconds": round(seconds, 1)}
    with tempfile.TemporaryDirectory(prefix="medlib-films-") as folder:
        started = time.perf_counter()
        films = full_size_films(Path(folder) / "films", args.films)
        print(f"made {args.films} full-size films in {time.perf_counter() - started:.0f} s")
        peak, seconds, summary = peak_of_info(films, repo)
    print(f"{args.films} full-size films: brought to {summary['size']} ({summary['dtype']}) in {seconds:.1f} s, "
          f"peak {peak:.0f} MiB; {'; '.join(summary['notes'][:2])}")
    figures[f"{args.films}_full_size_films"] = {"peak_mib": round(peak), "seconds": round(seconds, 1),
                                                "size": summary["size"]}
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
