"""3-D data sets: Decathlon task folders and NIfTI image/label folders read as volumes with their spacing and
named structures, and their bad input refused whole in one line."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medlib.datasets import load_dataset, load_images, load_upload
from medlib.datasets.volumes import VolumeSet
from medlib.errors import DatasetError
from medlib.training.fingerprint import data_fingerprint

SPACING = (0.8, 0.8, 2.5)


def _affine(spacing=SPACING) -> np.ndarray:
    return np.diag([*spacing, 1.0])


def _save(array: np.ndarray, path: Path, affine: np.ndarray | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, _affine() if affine is None else affine), str(path))


def _task(root: Path, n: int = 5, label_of=None) -> Path:
    """A Decathlon task of ``n`` 12×10×8 volumes, each with a box of structure 1 and one of structure 2."""
    rng = np.random.default_rng(0)
    training = []
    for k in range(n):
        image = rng.normal(100, 10, (12, 10, 8)).astype(np.float32)
        labels = np.zeros((12, 10, 8), np.uint8)
        labels[2:5, 2:5, 1:4], labels[6:10, 5:9, 4:7] = 1, 2
        name = f"case_{k:03d}.nii.gz"
        _save(image, root / "imagesTr" / name)
        _save(labels if label_of is None else label_of(k, labels), root / "labelsTr" / name)
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    task = {"name": "Toy", "modality": {"0": "MRI"}, "labels": {"0": "background", "1": "head", "2": "tail"},
            "training": training, "test": []}
    (root / "dataset.json").write_text(json.dumps(task))
    return root


def test_a_decathlon_task_is_a_3d_segmentation_set_with_its_structures_and_spacing(tmp_path):
    dataset = load_dataset(_task(tmp_path / "Task99"))
    assert isinstance(dataset, VolumeSet)
    info = dataset.summary()
    assert info["dimensions"] == 3 and info["images"] == 5 and info["task"] == "segmentation"
    assert info["structures"] == ["head", "tail"] and info["modality"] == "MRI"
    assert info["spacing"] == [0.8, 0.8, 2.5] and info["shape"]["median"] == [12, 10, 8]
    facts = data_fingerprint(dataset)
    head = facts["structures"]["head"]["volume_ml"]["median"]
    assert head == pytest.approx(27 * 0.8 * 0.8 * 2.5 / 1000)
    volume = dataset.volumes[0]
    assert volume.plane("axial", 2).shape == (10, 12) and volume.plane("sagittal", 3, labels=True).max() == 1


def test_nifti_image_and_label_folders_are_volumes_too_and_a_zip_of_them_uploads(tmp_path):
    root = _task(tmp_path / "pairs", n=3)
    (root / "dataset.json").unlink()
    (root / "labels.json").write_text(json.dumps({"labels": {"1": "head", "2": "tail"}}))
    assert load_dataset(root).structures == ["head", "tail"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in root.rglob("*"):
            if path.is_file():
                archive.write(path, Path("pairs") / path.relative_to(root))
    uploaded = load_upload(buffer.getvalue(), "pairs.zip")
    assert isinstance(uploaded, VolumeSet) and len(uploaded) == 3


def test_a_3d_set_is_refused_by_the_2d_steps_with_what_to_do(tmp_path):
    with pytest.raises(DatasetError, match=r"is a 3-D set of 5 volumes .* training takes 2-D images"):
        load_images(_task(tmp_path / "Task99"), "training")


def _zero_spacing(path: Path) -> None:
    image = nib.Nifti1Image(np.zeros((12, 10, 8), np.float32), None)
    image.header["pixdim"][1:4] = (0.8, 0.0, 2.5)
    nib.save(image, str(path))


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda root: _save(np.zeros((12, 10, 7), np.uint8), root / "labelsTr" / "case_001.nii.gz"),
     r"the label volume case_001.nii.gz is \(12, 10, 7\) but its image case_001.nii.gz is \(12, 10, 8\)"),
    (lambda root: _save(np.zeros((12, 10, 8), np.uint8), root / "labelsTr" / "case_001.nii.gz",
                        _affine((1.0, 1.0, 1.0))),
     r"case_001.nii.gz has another affine .* resample it onto the image's grid"),
    (lambda root: _save(np.zeros((12, 10, 8, 2), np.uint8), root / "labelsTr" / "case_002.nii.gz"),
     r"the label volume case_002.nii.gz has 4 dimensions"),
    (lambda root: _save(np.full((12, 10, 8), 3, np.uint8), root / "labelsTr" / "case_002.nii.gz"),
     r"holds value\(s\) 3 that no structure is named for"),
    (lambda root: (root / "imagesTr" / "case_003.nii.gz").unlink(),
     r"dataset.json names 1 missing file\(s\): imagesTr/case_003.nii.gz"),
    (lambda root: _zero_spacing(root / "imagesTr" / "case_000.nii.gz"), r"case_000.nii.gz has voxel spacing"),
])
def test_bad_volumes_are_refused_whole_in_one_line(tmp_path, spoil, message):
    root = _task(tmp_path / "Task99")
    spoil(root)
    with pytest.raises(DatasetError, match=message):
        load_dataset(root)


def test_the_hippocampus_task_is_200_volumes_with_anterior_and_posterior(shared_data):
    info = load_dataset(shared_data / "hippocampus").summary()
    assert info["dimensions"] == 3 and info["images"] == 200 and info["task"] == "segmentation"
    assert [s.lower() for s in info["structures"]] == ["anterior", "posterior"]
    assert info["spacing"] == [1.0, 1.0, 1.0]
