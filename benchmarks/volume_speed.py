"""How fast and how lean a volume goes through a 3-D model: one hippocampus crop through the shipped
``mri-hippocampus`` (the Diagnose page's wait), and a CT-sized volume (512×512×300, synthetic) through a 3-D U-Net
in Gaussian-blended sliding windows (blended slab by slab into labels), with the process's peak memory.

Usage: python benchmarks/volume_speed.py [--repeats 10] [--ct-patch 96] [--ct-only]
Prints the median and worst seconds and the peak resident memory; last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from medlib.answers.volume_diagnose import diagnose_volume  # noqa: E402
from medlib.models.architectures import build_model  # noqa: E402
from medlib.models.loaded import open_model  # noqa: E402
from medlib.models.predict import segment_volume  # noqa: E402
from medlib.preprocessing.volumes import VolumeSteps  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--ct-patch", type=int, default=96)
    parser.add_argument("--ct-only", action="store_true", help="the CT-sized volume alone, in a fresh process")
    args = parser.parse_args()
    figures: dict = {}
    if not args.ct_only:
        hippocampus(args.repeats, figures)
    ct_volume(args.ct_patch, figures)
    return figures


def hippocampus(repeats: int, figures: dict) -> None:
    """The Diagnose page's wait for one hippocampus volume through the shipped model (its four mirror views)."""
    import nibabel as nib

    model = open_model(ROOT / "models" / "mri-hippocampus")
    source = sorted((SHARED / "hippocampus" / "imagesTr").glob("*.nii.gz"))[-1]
    volume = nib.load(source)
    data, affine = np.asarray(volume.dataobj, np.float32), volume.affine
    diagnose_volume(data, affine, model)  # the first call builds the graph
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        diagnose_volume(data, affine, model)
        times.append(time.perf_counter() - started)
    figures["hippocampus_s"] = [round(statistics.median(times), 3), round(max(times), 3)]
    figures["hippocampus_shape"] = list(data.shape)
    print(f"{source.name} {data.shape}: {figures['hippocampus_s'][0]} s median (worst {figures['hippocampus_s'][1]})")


def ct_volume(side: int, figures: dict) -> None:
    """A CT-sized volume through an untrained 3-D U-Net in ``side``³ patches: its time and the process's peak."""
    patch = (side,) * 3
    network = build_model("unet", (*patch, 1), 3, width=8)
    ct = np.random.default_rng(0).standard_normal((300, 512, 512), dtype=np.float32)  # no float64 copy first
    ct *= 200.0
    ct += 40.0
    steps = VolumeSteps((1.0, 1.0, 1.0), "ct", patch, (-1000.0, 1000.0))
    before = _peak_mb()
    started = time.perf_counter()
    labels = segment_volume(network, steps, ct, (1.0, 1.0, 1.0))
    figures["ct_512x512x300_s"] = round(time.perf_counter() - started, 1)
    figures["ct_peak_rss_mb"] = round(_peak_mb(), 0)
    figures["ct_volume_mb"] = round(ct.nbytes / 2**20, 0)
    print(f"CT-sized volume 300×512×512 ({figures['ct_volume_mb']:.0f} MB of float32) in {patch} patches: "
          f"{figures['ct_512x512x300_s']} s, peak resident memory {figures['ct_peak_rss_mb']:.0f} MB (before "
          f"{before:.0f} MB); labels {labels.shape}")


if __name__ == "__main__":
    print(json.dumps(main()))
