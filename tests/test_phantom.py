"""The built-in synthetic chest films and their export to real formats."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from medlib.datasets import load_dataset
from medlib.datasets.phantom import CLASS_NAMES, make_phantom
from medlib.datasets.phantom_export import write_phantom
from medlib.input import read_image


def test_deterministic_for_a_seed_and_independent_of_n():
    a, b = make_phantom(9, size=48, seed=3), make_phantom(12, size=48, seed=3)
    assert np.array_equal(a.images, b.images[:9]) and np.array_equal(a.masks, b.masks[:9])
    assert not np.array_equal(a.images, make_phantom(9, size=48, seed=4).images)


def test_classes_and_masks_agree():
    dataset = make_phantom(30, size=64)
    assert dataset.class_names == CLASS_NAMES and dataset.synthetic
    has_lesion = dataset.masks.reshape(30, -1).any(axis=1)
    assert not has_lesion[dataset.labels == 0].any()
    assert has_lesion[dataset.labels > 0].all()
    assert dataset.images.min() >= 0.0 and dataset.images.max() <= 1.0


def test_lesions_are_brighter_than_their_surroundings():
    dataset = make_phantom(60, size=128)
    for i in np.flatnonzero(dataset.labels == 1)[:10]:
        image, mask = dataset.images[i, ..., 0], dataset.masks[i]
        ring = cv2.dilate(mask, np.ones((7, 7), np.uint8)).astype(bool) & ~mask.astype(bool)
        assert image[mask.astype(bool)].mean() > image[ring].mean()


@pytest.mark.parametrize("size", [16, 64, 200])
def test_any_size(size):
    assert make_phantom(3, size=size).images.shape == (3, size, size, 1)


@pytest.mark.parametrize("bad", [{"n": 2}, {"size": 8}])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        make_phantom(**{"n": 9, "size": 32, **bad})


@pytest.mark.parametrize("out", ["set.npz", "set.zip", "dicom"])
def test_exports_load_back(tmp_path, out):
    dataset = make_phantom(12, size=32)
    loaded = load_dataset(write_phantom(dataset, tmp_path / out))
    assert len(loaded) == 12 and sorted(loaded.class_names) == sorted(CLASS_NAMES)
    assert loaded.summary()["splits"] == dataset.summary()["splits"]


def test_dicom_export_hides_its_synthetic_patient_tags(tmp_path):
    folder = write_phantom(make_phantom(3, size=32), tmp_path / "dicom")
    image = read_image(folder / "phantom-00000.dcm")
    assert image.window is not None and image.spacing == (0.7, 0.7)
    assert "SYNTHETIC^PHANTOM" not in repr(image.summary())
