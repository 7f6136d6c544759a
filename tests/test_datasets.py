"""Data sets: npz, class folders, CSV manifests, image/mask folders, splits, and the shared real sets."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import cv2
import numpy as np
import pytest

from medlib.datasets import load_dataset, load_upload
from medlib.datasets.split import assign_splits


def _png(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_medmnist_npz_with_labels_shaped_n_by_1():
    rng = np.random.default_rng(0)
    data = _npz(
        train_images=rng.integers(0, 255, (10, 28, 28), np.uint8),
        train_labels=np.array([[0], [1]] * 5),
        val_images=rng.integers(0, 255, (4, 28, 28), np.uint8),
        val_labels=np.array([[0], [1]] * 2),
        test_images=rng.integers(0, 255, (6, 28, 28), np.uint8),
        test_labels=np.array([0, 1] * 3),
    )
    dataset = load_upload(data, "pneumoniamnist.npz")
    assert dataset.class_names == ["normal", "pneumonia"]
    assert dataset.summary()["splits"] == {"train": 10, "val": 4, "test": 6}
    assert dataset.images.shape == (20, 28, 28, 1)


def test_rgb_npz_keeps_three_channels():
    data = _npz(train_images=np.zeros((4, 8, 8, 3), np.uint8), train_labels=np.array([0, 1, 2, 1]))
    dataset = load_upload(data, "colours.npz")
    assert dataset.channels == 3 and dataset.class_names == ["class_0", "class_1", "class_2"]


def test_class_folders_inside_split_folders():
    entries = {}
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        for label in ("normal", "pneumonia"):
            for i in range(n):
                entries[f"xray/{split}/{label}/{label}{i}.png"] = _png(np.full((12, 12), i * 20, np.uint8))
    entries["xray/README.txt"] = b"not an image"
    dataset = load_upload(_zip(entries), "xray.zip")
    assert dataset.class_names == ["normal", "pneumonia"]
    assert dataset.counts()["train"] == {"normal": 4, "pneumonia": 4}
    assert dataset.counts()["test"] == {"normal": 2, "pneumonia": 2}
    assert any("README.txt" in note for note in dataset.notes)


def test_class_folders_without_splits_get_a_stratified_split():
    entries = {f"d/{c}/{i}.png": _png(np.full((8, 8), i, np.uint8)) for c in ("a", "b") for i in range(20)}
    dataset = load_upload(_zip(entries), "d.zip")
    counts = dataset.counts()
    assert counts["val"] == {"a": 3, "b": 3} and counts["test"] == {"a": 3, "b": 3}
    assert any("70/15/15" in note for note in dataset.notes)


def test_manifest_groups_each_patient_into_one_split():
    rows, entries = ["path,label,patient_id"], {}
    for patient in range(12):
        for view in range(3):
            name = f"img/p{patient}_{view}.png"
            entries[f"m/{name}"] = _png(np.full((8, 8), patient, np.uint8))
            rows.append(f"{name},{'sick' if patient % 2 else 'well'},P{patient}")
    entries["m/labels.csv"] = "\n".join(rows).encode()
    dataset = load_upload(_zip(entries), "m.zip")
    splits_of = {}
    for group, split in zip(dataset.groups, dataset.split, strict=True):
        splits_of.setdefault(group, set()).add(split)
    assert all(len(s) == 1 for s in splits_of.values())
    assert set(dataset.split) == {"train", "val", "test"}


def test_image_and_mask_folders_matched_by_number():
    entries = {}
    for i in range(1, 6):
        image = np.zeros((16, 20, 3), np.uint8)
        mask = np.zeros((16, 20), np.uint8)
        mask[i : i + 4, 2:6] = 255
        entries[f"seg/images/{i:02d}_scan.png"] = _png(image)
        entries[f"seg/labels/{i}_label.png"] = _png(mask)
    dataset = load_upload(_zip(entries), "seg.zip")
    assert dataset.task == "segmentation"
    assert dataset.masks.shape == (5, 16, 20)
    assert set(np.unique(dataset.masks)) == {0, 1}
    assert dataset.masks[2, 3:7, 2:6].all() and dataset.masks[2].sum() == 16


def test_mixed_sizes_and_channels_are_harmonised_and_stated():
    entries = {f"d/a/{i}.png": _png(np.zeros((10, 10), np.uint8)) for i in range(5)}
    entries.update({f"d/b/{i}.png": _png(np.zeros((10, 10), np.uint8)) for i in range(4)})
    entries["d/b/big.png"] = _png(np.zeros((20, 30, 3), np.uint8))
    dataset = load_upload(_zip(entries), "d.zip")
    assert dataset.images.shape == (10, 10, 10, 1) and dataset.fit == "pad"
    assert any("2 sizes brought to 10×10" in note for note in dataset.notes)
    assert any("converted to gray" in note for note in dataset.notes)


def _film(height: int, width: int, value: int = 200) -> np.ndarray:
    """A bright film-like rectangle on black, so padding (black) and stretching can be told apart."""
    film = np.zeros((height, width), np.uint8)
    film[height // 10 : height - height // 10, width // 10 : width - width // 10] = value
    return film


def test_films_of_many_sizes_become_squares_of_the_median_side_kept_as_8_bit(tmp_path):
    sizes = [(300, 200), (200, 300), (260, 260), (400, 300), (240, 320)]
    for k, (height, width) in enumerate(sizes):
        (tmp_path / "films" / ("a" if k % 2 else "b")).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "films" / ("a" if k % 2 else "b") / f"{k}.png"), _film(height, width))
    padded = load_dataset(tmp_path / "films")
    assert padded.images.shape == (5, 300, 300, 1) and padded.images.dtype == np.uint8
    portrait = padded.images[padded.ids.index("0"), ..., 0]  # 300×200: aspect kept, black bars left and right
    assert portrait[:, :40].max() == 0 and portrait[150, 150] == 200
    stretched = load_dataset(tmp_path / "films", fit="stretch")
    assert stretched.fit == "stretch" and stretched.images[stretched.ids.index("0"), 150, 35, 0] == 200
    assert padded.summary()["dtype"] == "uint8"


def test_sixteen_bit_films_stay_sixteen_bit(tmp_path):
    for k in range(4):
        (tmp_path / "s" / f"c{k % 2}").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "s" / f"c{k % 2}" / f"{k}.png"), (_film(40, 40).astype(np.uint16) * 257))
    dataset = load_dataset(tmp_path / "s")
    assert dataset.images.dtype == np.uint16 and int(dataset.images.max()) == 200 * 257


def test_a_folder_of_large_films_is_read_without_holding_full_size_floats(tmp_path):
    import tracemalloc

    rng = np.random.default_rng(0)
    for k in range(16):
        (tmp_path / "big" / f"c{k % 2}").mkdir(parents=True, exist_ok=True)
        height, width = int(rng.integers(560, 640)), int(rng.integers(700, 800))
        cv2.imwrite(str(tmp_path / "big" / f"c{k % 2}" / f"{k}.png"), rng.integers(0, 256, (height, width), np.uint8))
    tracemalloc.start()
    dataset = load_dataset(tmp_path / "big")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert dataset.images.shape[1:] == (512, 512, 1) and dataset.images.dtype == np.uint8
    full_size_float = 640 * 800 * 4
    assert peak < 6 * full_size_float  # one film at a time (16 full-size float copies would be 16 of them)


def test_fingerprint_follows_the_content():
    first = load_dataset("phantom", n=9, size=32)
    second = load_dataset("phantom", n=9, size=32)
    assert first.fingerprint == second.fingerprint
    labels = second.labels.copy()
    labels[0] = (labels[0] + 1) % 3
    assert first.fingerprint != dataclasses.replace(second, labels=labels).fingerprint  # computed anew, not copied


def test_split_fractions_must_add_up():
    with pytest.raises(ValueError, match="add up to 1"):
        assign_splits(10, fractions=(0.5, 0.2, 0.2))


@pytest.mark.shared
def test_shared_pneumoniamnist_loads_with_official_counts(shared_data):
    dataset = load_dataset(shared_data / "pneumoniamnist_28.npz")
    assert dataset.class_names == ["normal", "pneumonia"]
    assert dataset.summary()["splits"] == {"train": 4707, "val": 524, "test": 624}


@pytest.mark.shared
def test_shared_drive_loads_as_segmentation_with_official_split(shared_data):
    dataset = load_dataset(shared_data / "DRIVE")
    assert dataset.task == "segmentation"
    assert dataset.summary()["splits"] == {"train": 20, "val": 0, "test": 20}
    assert dataset.images.shape == (40, 584, 565, 3)
    assert dataset.fov is not None and 0.6 < dataset.fov.mean() < 0.75  # field of view, not vessels
    assert 0.05 < dataset.masks.mean() < 0.15  # vessels from 1st_manual
