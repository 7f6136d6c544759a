"""Speed of the input stage: phantom generation, DICOM decoding and data-set loading.

Usage: python benchmarks/input_speed.py
Prints one line per measurement and, last, one JSON line with every figure.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medlib.datasets import load_dataset  # noqa: E402
from medlib.datasets.phantom import make_phantom  # noqa: E402
from medlib.input import read_image  # noqa: E402


def _best_of(repeats: int, work) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _dicom(name: str) -> Path | None:
    try:
        import data_store
    except ImportError:
        return None
    path = Path(data_store.__file__).parent / "data" / name
    return path if path.is_file() else None


def main() -> dict[str, float]:
    figures: dict[str, float] = {}
    seconds = _best_of(3, lambda: make_phantom(1000, size=128))
    figures["phantom_1000x128_s"] = round(seconds, 2)
    print(f"phantom: 1000 films of 128x128 in {seconds:.2f} s")
    for name in ("RG1_UNCR.dcm", "RG1_J2KR.dcm", "693_J2KR.dcm"):
        path = _dicom(name)
        if path is None:
            print(f"{name}: skipped (install pydicom-data)")
            continue
        data = path.read_bytes()
        seconds = _best_of(3, lambda data=data: read_image(data))
        figures[f"read_{name.removesuffix('.dcm')}_ms"] = round(seconds * 1000, 1)
        print(f"{name}: read in {seconds * 1000:.1f} ms")
    shared = ROOT.parent / "shared" / "data"
    for label, path in (("pneumoniamnist", shared / "pneumoniamnist_28.npz"), ("drive", shared / "DRIVE")):
        if not path.exists():
            print(f"{label}: skipped ({path} is absent)")
            continue
        seconds = _best_of(3, lambda path=path: load_dataset(path))
        figures[f"load_{label}_s"] = round(seconds, 2)
        print(f"{label}: loaded in {seconds:.2f} s")
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
