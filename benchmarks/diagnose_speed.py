"""How long the Diagnose page (and ``medlib diagnose``) waits for the models: one image through a classifier (with
its heat map and gate), a segmenter and a locating model, after they are loaded.

Usage: python benchmarks/diagnose_speed.py [--repeats 20]
Real films: the committed sample film as it is (224×224) and enlarged to 4000×5000 (a full-size film, saved as
JPEG and read from disk in each run), through cxr-pneumonia and cxr-lungs; the JSRT sample film enlarged to
2048×2048 (the database's own size) through the three default real-film models, cxr-pneumonia, cxr-anatomy and
cxr-nodule, as the page calls them (worked on at 1,280 pixels). Synthetic films of 256 and 1024 pixels through
chest-classifier and chest-lesions. Prints the median and worst seconds per image; last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medlib.answers.diagnose import diagnose  # noqa: E402
from medlib.datasets.phantom import make_phantom  # noqa: E402
from medlib.input import read_image  # noqa: E402
from medlib.models.loaded import open_model  # noqa: E402


def _timed(work, repeats: int) -> tuple[float, float]:
    work()  # the first call builds the graphs
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3), round(max(times), 3)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    figures: dict = {}
    started = time.perf_counter()
    real = open_model(ROOT / "models" / "cxr-pneumonia"), open_model(ROOT / "models" / "cxr-lungs")
    figures["load_real_s"] = round(time.perf_counter() - started, 2)
    print(f"cxr-pneumonia and cxr-lungs loaded in {figures['load_real_s']} s")
    sample = ROOT / "samples" / "IM-0141-0001.jpeg"
    with tempfile.TemporaryDirectory() as folder:
        full = Path(folder) / "full-size.jpeg"
        film = cv2.imread(str(sample), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(full), cv2.resize(film, (4000, 5000), interpolation=cv2.INTER_CUBIC))
        for name, path in (("real_224", sample), ("real_4000x5000", full)):
            image = read_image(path).data[0]
            figures[f"{name}_models_s"] = _timed(lambda image=image: diagnose(image, *real), args.repeats)
            read_and_diagnose = lambda path=path: diagnose(read_image(path).data[0], *real)  # noqa: E731
            figures[f"{name}_read_and_models_s"] = _timed(read_and_diagnose, args.repeats)
            print(f"{name}: models {figures[f'{name}_models_s'][0]} s (worst {figures[f'{name}_models_s'][1]}), "
                  f"read and models {figures[f'{name}_read_and_models_s'][0]} s median")
        jsrt = Path(folder) / "jsrt-2048.png"
        film = cv2.imread(str(ROOT / "samples" / "JPCLN012.png"), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(jsrt), cv2.resize(film, (2048, 2048), interpolation=cv2.INTER_CUBIC))
        three = [open_model(ROOT / "models" / name) for name in ("cxr-pneumonia", "cxr-anatomy", "cxr-nodule")]
        image = read_image(jsrt).data[0]
        figures["jsrt_2048_three_models_s"] = _timed(
            lambda: diagnose(image, three[0], three[1], (0.175, 0.175), work_side=1280, locator=three[2]),
            args.repeats)
        print(f"JSRT film 2048×2048 through the three real-film models: {figures['jsrt_2048_three_models_s'][0]} s "
              f"median (worst {figures['jsrt_2048_three_models_s'][1]})")
    synthetic = open_model(ROOT / "models" / "chest-classifier"), open_model(ROOT / "models" / "chest-lesions")
    for size in (256, 1024):
        film = make_phantom(3, size=size, seed=3).images[1]
        figures[f"synthetic_{size}_models_s"] = _timed(lambda film=film: diagnose(film, *synthetic), args.repeats)
        print(f"synthetic {size}×{size}: models {figures[f'synthetic_{size}_models_s'][0]} s median")
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
