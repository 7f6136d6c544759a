"""The data fingerprint of small synthetic sets: sizes, channels, intensities, masks and balance."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from medlib.datasets import Dataset, load_dataset
from medlib.datasets.split import assign_splits
from medlib.training.fingerprint import data_fingerprint


def _dataset(images: np.ndarray, labels=None, masks=None, groups=None) -> Dataset:
    n = len(images)
    return Dataset("d", images, assign_splits(n, labels, seed=0), [str(i) for i in range(n)], labels=labels,
                   class_names=["a", "b"] if labels is not None else [], masks=masks, groups=groups)


def test_sizes_as_read_classes_and_patients(tmp_path):
    sizes = [(40, 30), (60, 50), (80, 70), (50, 50)]
    for k, (height, width) in enumerate(sizes):
        folder = tmp_path / "set" / ("a" if k < 3 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{k}.png"), np.full((height, width), 100, np.uint8))
    facts = data_fingerprint(load_dataset(tmp_path / "set"))
    assert facts["size"]["height"]["median"] == 55 and facts["size"]["width"]["max"] == 70
    assert facts["size"]["distinct"] == 4 and facts["size"]["fit"] == "pad" and facts["size"]["stored"] == [55, 55]
    assert facts["classes"] == {"a": 3, "b": 1} and facts["imbalance"] == 3.0
    assert facts["channels"] == 1 and facts["dtype"] == "uint8" and facts["intensity"]["kind"] == "8-bit"


@pytest.mark.parametrize(("values", "kind"), [
    (np.arange(256, dtype=np.uint8), "8-bit"), (np.arange(0, 4096, 16, dtype=np.uint16), "16-bit"),
    (np.linspace(-1024, 1500, 256).round().astype(np.int16), "CT (HU)"), (np.linspace(0, 1, 256), "unit"),
    (np.linspace(-3, 3, 256), "float"),
])
def test_how_the_values_are_stored(values, kind):
    images = np.tile(values.reshape(16, 16)[None, ..., None], (4, 1, 1, 1))
    assert data_fingerprint(_dataset(images, labels=np.array([0, 1, 0, 1])))["intensity"]["kind"] == kind


def test_masks_foreground_and_object_sizes_and_the_colour_channel_with_contrast():
    rng = np.random.default_rng(0)
    images = np.full((6, 40, 40, 3), 100, np.uint8)
    images[..., 1] = rng.integers(0, 256, (6, 40, 40))  # the green channel carries the contrast
    masks = np.zeros((6, 40, 40), np.uint8)
    masks[:, 5:15, 5:15] = 1  # one 10×10 object per image, and a 4×4 one in half of them
    masks[::2, 30:34, 30:34] = 1
    facts = data_fingerprint(_dataset(images, masks=masks, groups=["p1", "p1", "p2", "p2", "p3", "p3"]))
    assert facts["masks"]["foreground"] == pytest.approx((6 * 100 + 3 * 16) / (6 * 1600))
    assert facts["masks"]["objects_per_image"]["median"] == 1.5 and facts["masks"]["images_with_foreground"] == 6
    assert facts["masks"]["object_area_px"]["max"] == 100 and facts["masks"]["object_area_px"]["min"] == 16
    assert facts["patients"] == 3 and facts["channels"] == 3
    contrast = facts["intensity"]["channel_contrast"]
    assert max(contrast, key=contrast.get) == "G" and facts["intensity"]["colourfulness"] > 0.3
