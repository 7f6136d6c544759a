"""Batch prediction on a local Dask cluster: files per second with one worker process and with two.

Usage: python benchmarks/batch_predict.py [--files 320]

Scores ``--files`` real chest films (``../shared/data/chest_xray_224``; without it, synthetic films written as
PNG) with ``cxr-pneumonia`` (probabilities, gate, sharpened Grad-CAM), as ``python -m medlib predict`` does,
once with ``--workers 1`` and once with ``--workers 2``, each into a fresh Parquet folder, and prints the files
per second of each (from the moment the cluster is up, so the models' loading in each worker counts) and their
ratio. Each worker's TensorFlow has its share of the CPUs (``MEDLIB_THREADS``), so one worker has both cores of a
2-core machine and two workers one each. With ``--steady`` it also scores four times as many files, and from the
two runs of each cluster size splits the time into a start (cluster, TensorFlow and the model in each worker) and
a time per file, whose ratio is the scaling of a long run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "chest_xray_224"


def films(count: int, folder: Path) -> Path:
    """A folder of ``count`` films: real ones copied from the shared set, else synthetic PNGs."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    if (SHARED / "manifest.csv").is_file():
        rows = [line.split(",")[0] for line in (SHARED / "manifest.csv").read_text().splitlines()[1:]][:count]
        for k, row in enumerate(rows):
            shutil.copy(SHARED / row, folder / f"{k:05d}-{Path(row).name}")
        return folder
    from medlib.datasets.phantom import make_phantom

    data = make_phantom(count, size=256, seed=0)
    for k in range(count):
        cv2.imwrite(str(folder / f"{k:05d}.png"), np.round(data.images[k, ..., 0] * 255).astype(np.uint8))
    return folder


def score(count: int, work: Path) -> dict[int, tuple[float, float]]:
    """Score ``count`` films with one worker and with two: the files per second and seconds of each."""
    from medlib.answers.batch import predict_archive

    data = films(count, work / f"films-{count}")
    figures = {}
    for workers in (1, 2):
        summary = predict_archive(data, work / f"out-{count}-{workers}.parquet", ROOT / "models" / "cxr-pneumonia",
                                  None, "gradcam-sharp", workers=workers, report=lambda line: None)
        figures[workers] = summary["files_per_second"], summary["seconds"]
        print(f"{workers} worker(s): {summary['scored_now']} files in {summary['seconds']} s, "
              f"{summary['files_per_second']} files/s")
    print(f"2 workers / 1 worker: {figures[2][0] / figures[1][0]:.2f}× (goal ≥ 1.7×)")
    return figures


def main(count: int, steady: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="medlib-batch-"))
    short = score(count, work)
    figures = {"files_per_second": {workers: rate for workers, (rate, _) in short.items()}}
    if steady:
        long = score(4 * count, work)
        per_file = {workers: (long[workers][1] - short[workers][1]) / (3 * count) for workers in (1, 2)}
        start = {workers: short[workers][1] - count * per_file[workers] for workers in (1, 2)}
        for workers in (1, 2):
            print(f"{workers} worker(s): start {start[workers]:.1f} s, then {1000 * per_file[workers]:.1f} ms a file")
        print(f"a long run, 2 workers / 1 worker: {per_file[1] / per_file[2]:.2f}× (goal ≥ 1.7×)")
        figures.update(start_seconds=start, seconds_per_file=per_file)
    shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=320)
    parser.add_argument("--steady", action="store_true", help="also score four times as many files, and split the "
                                                              "time into a start and a time per file")
    arguments = parser.parse_args()
    print(json.dumps(main(arguments.files, arguments.steady)))
