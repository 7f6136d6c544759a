"""The out-of-distribution gate on images the models never trained on: non-chest images and chest films.

Usage: python benchmarks/gate_benchmark.py [--classifier models/cxr-pneumonia] [--segmenter models/cxr-lungs]

Non-chest images, assembled here (no download): every distinct image of the pydicom-data package that is not a
chest film (CT, MR, ultrasound, nuclear medicine, an extremity radiograph, secondary captures, segmentations),
scikit-image's bundled pictures (photographs, microscopy, a retina, text, a CT-like phantom), the 40 DRIVE fundus
photographs, and synthetic images (noise of three kinds, blank images, gradients, shapes). Chest films: the
patient-grouped test split of chest_xray_224 (seed 0, as the shipped classifier's card), the same films exported
as RGB, 16-bit and at full size, the lung_shenzhen films (adult, another hospital) and the adult chest CR of
pydicom-data. PneumoniaMNIST's 28-pixel thumbnails and the synthetic chest films are reported apart.

Prints one line per group (share flagged with its 95% Wilson interval) and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from medlib.answers.diagnose import diagnose  # noqa: E402
from medlib.errors import MedlibError  # noqa: E402
from medlib.input import read_image  # noqa: E402
from medlib.models.loaded import open_model  # noqa: E402

#: pydicom-data files that are chest films (they belong with the chest films, not the non-chest images).
CHEST_DICOM = ("RG1_UNCR.dcm",)
#: One file of each distinct non-chest picture of pydicom-data (the others are the same pixels in other encodings).
NON_CHEST_DICOM = (
    "693_UNCR.dcm", "CT_small.dcm", "J2K_pixelrep_mismatch.dcm", "bad_sequence.dcm", "explicit_VR-UN.dcm",
    "eCT_Supplemental.dcm", "JPEG2000_UNC.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "MR2_UNCR.dcm", "MR_small.dcm", "emri_small.dcm", "examples_overlay.dcm", "OBXXXX1A.dcm", "OT-PAL-8-face.dcm",
    "RG3_UNCR.dcm", "SC_rgb.dcm", "SC_rgb_jpeg.dcm", "US1_UNCR.dcm", "color-pl.dcm", "color3d_jpeg_baseline.dcm",
    "examples_palette.dcm", "examples_rgb_color.dcm", "examples_ybr_color.dcm", "gdcm-US-ALOKA-16.dcm",
    "liver_1frame.dcm", "mlut_18.dcm", "vlut_04.dcm", "image_dfl.dcm", "GDCMJ2K_TextGBR.dcm",
)
SKIMAGE = ("astronaut", "brick", "camera", "cat", "checkerboard", "clock", "coffee", "coins", "colorwheel", "grass",
           "gravel", "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina",
           "rocket", "text", "cell", "shepp_logan_phantom", "binary_blobs", "horse")


def _dicom(name: str) -> tuple[np.ndarray, dict] | None:
    try:
        import data_store
    except ImportError:
        return None
    path = Path(data_store.__file__).parent / "data" / name
    if not path.is_file():
        return None
    try:
        image = read_image(path)
    except MedlibError:
        return None
    return image.data[0], image.metadata


def _hwc(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, np.float32)
    return array[..., None] if array.ndim == 2 else array[..., :3]


SYNTHETIC = "synthetic (noise, blank, gradients, shapes)"
PICTURES = "scikit-image pictures (photos, microscopy, retina, text)"


def non_chest(seed: int = 0) -> Iterator[tuple[str, str, np.ndarray, dict | None]]:
    """(group, name, image, DICOM tags or None) of every non-chest image."""
    import skimage.data

    for name in NON_CHEST_DICOM:
        found = _dicom(name)
        if found is not None:
            yield "pydicom-data (CT, MR, US, NM, CR extremity, SC), DICOM with its tags", name, *found
            yield "the same pictures without tags (as a PNG or JPEG export carries them)", name, found[0], None
    for name in SKIMAGE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            picture = getattr(skimage.data, name)()
        yield PICTURES, name, _hwc(picture * (255 if picture.dtype == bool else 1)), None
    drive = SHARED / "DRIVE"
    for path in sorted(drive.glob("*/images/*.tif")):
        yield "DRIVE fundus photographs", path.name, read_image(path).data[0], None
    rng = np.random.default_rng(seed)
    for side in (64, 256, 1024):
        yield SYNTHETIC, f"uniform noise {side}", rng.uniform(0, 255, (side, side, 1)), None
        yield SYNTHETIC, f"gaussian noise {side}", np.clip(rng.normal(128, 40, (side, side, 1)), 0, 255), None
        yield SYNTHETIC, f"salt and pepper {side}", (rng.random((side, side, 1)) > 0.5) * 255.0, None
        yield SYNTHETIC, f"colour noise {side}", rng.uniform(0, 255, (side, side, 3)), None
    for value in (0.0, 128.0, 255.0):
        yield SYNTHETIC, f"blank {value:.0f}", np.full((300, 300, 1), value), None
    ramp = np.linspace(0, 255, 256, dtype=np.float32)
    yield SYNTHETIC, "horizontal gradient", np.tile(ramp, (256, 1))[..., None], None
    yield SYNTHETIC, "radial gradient", _hwc(np.hypot(*np.meshgrid(ramp - 128, ramp - 128))), None
    for k in range(4):
        canvas = np.zeros((256, 256), np.float32)
        for _ in range(6):
            centre = tuple(int(v) for v in rng.integers(20, 236, 2))
            cv2.circle(canvas, centre, int(rng.integers(8, 60)), float(rng.integers(60, 255)), -1)
        yield SYNTHETIC, f"circles {k}", canvas[..., None], None


def chest(seed: int = 0) -> Iterator[tuple[str, str, np.ndarray, dict | None]]:
    """(group, name, image, DICOM tags or None) of every chest film that no shipped model trained on."""
    from medlib.datasets import load_dataset

    films = load_dataset(SHARED / "chest_xray_224", seed=seed)
    test = films.indices("test")
    rng = np.random.default_rng(seed)
    for i in test:
        yield "chest_xray_224 test split (pediatric)", films.ids[i], films.images[i].astype(np.float32), None
    for i in test[::7]:
        film = films.images[i].astype(np.float32)
        yield "the same films as RGB, 16-bit and full size", f"{films.ids[i]} RGB", np.repeat(film, 3, axis=-1), None
        yield "the same films as RGB, 16-bit and full size", f"{films.ids[i]} 16-bit", film * 257.0, None
        height, width = int(rng.integers(1200, 2600)), int(rng.integers(1400, 2900))
        full = cv2.resize(film[..., 0], (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
        yield "the same films as RGB, 16-bit and full size", f"{films.ids[i]} {width}x{height}", full, None
    shenzhen = load_dataset(SHARED / "lung_shenzhen", seed=seed)
    for i in shenzhen.indices("test"):
        yield (
            "lung_shenzhen test split (adult, another hospital)",
            shenzhen.ids[i],
            shenzhen.images[i].astype(float),
            None,
        )
    for name in CHEST_DICOM:
        found = _dicom(name)
        if found is not None:
            yield "pydicom-data adult chest CR", name, *found


def apart(seed: int = 0) -> Iterator[tuple[str, str, np.ndarray, dict | None]]:
    """Images reported apart: PneumoniaMNIST's 28-pixel chest thumbnails and the synthetic chest films."""
    from medlib.datasets import load_dataset
    from medlib.datasets.phantom import make_phantom

    thumbnails = load_dataset(SHARED / "pneumoniamnist_28.npz")
    for i in thumbnails.indices("test")[:100]:
        yield "PneumoniaMNIST test thumbnails (28 px)", thumbnails.ids[i], thumbnails.images[i].astype(np.float32), None
    phantoms = make_phantom(30, size=256, seed=seed)
    for i in range(len(phantoms)):
        yield "synthetic chest films (the demo phantom)", phantoms.ids[i], phantoms.images[i], None


def wilson(hits: int, n: int, z: float = 1.96) -> list[float]:
    """The 95% Wilson interval of a proportion."""
    if n == 0:
        return [0.0, 1.0]
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)]


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", default=str(ROOT / "models" / "cxr-pneumonia"))
    parser.add_argument("--segmenter", default=str(ROOT / "models" / "cxr-lungs"))
    parser.add_argument("--show", type=int, default=5, help="names of flagged chest films / passed non-chest images")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return {}
    classifier = open_model(args.classifier) if args.classifier != "none" else None
    segmenter = open_model(args.segmenter) if args.segmenter != "none" else None
    figures: dict = {}
    started = time.perf_counter()
    for side, source in (("non-chest", non_chest()), ("chest", chest()), ("apart", apart())):
        groups: dict[str, list[tuple[str, float, dict]]] = {}
        for group, name, image, tags in source:
            result = diagnose(_hwc(image), classifier, segmenter, metadata=tags).gate
            groups.setdefault(group, []).append((name, result.score, result.signals))
        for group, rows in groups.items():
            flagged = sum(score >= 1.0 for _, score, _ in rows)
            print(f"{side:9} {group}: {flagged}/{len(rows)} flagged ({flagged / len(rows):.1%}, "
                  f"95% CI {wilson(flagged, len(rows))})")
            odd = [r for r in rows if (r[1] < 1.0) == (side == "non-chest")]
            for name, score, signals in odd[: args.show]:
                shown = " ".join(f"{k} {v:.2f}" for k, v in signals.items())
                print(f"          {'passed' if side == 'non-chest' else 'flagged'}: {name} score {score:.2f} {shown}")
            figures[f"{side}: {group}"] = {"flagged": flagged, "n": len(rows), "ci": wilson(flagged, len(rows))}
        # Totals: the pydicom-data pictures count once, with their tags, or (pixels only) without them.
        totals = {"all": [g for g in groups if "without tags" not in g],
                  "all, pixels only": [g for g in groups if "with its tags" not in g]}
        for label, members in totals.items() if side != "apart" else ():
            hits = sum(figures[f"{side}: {g}"]["flagged"] for g in members)
            n = sum(figures[f"{side}: {g}"]["n"] for g in members)
            print(f"{side:9} {label}: {hits}/{n} flagged ({hits / n:.1%}, 95% CI {wilson(hits, n)})")
            figures[f"{side}: {label}"] = {"flagged": hits, "n": n, "ci": wilson(hits, n)}
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
