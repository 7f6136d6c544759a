"""An image's geometry from its file: where its pixels lie (an affine in RAS+ mm, the same for NIfTI and DICOM)
and, for DICOM, the UIDs and frame positions an answer must cite, kept out of what is shown."""

from __future__ import annotations

import io
import json

import nibabel as nib
import numpy as np
import pydicom
import pytest

from medlib.input import read_image
from medlib.input.dicom import read_dicom_series
from tests.conftest import dicom_file


def test_a_nifti_volume_keeps_where_each_voxel_lies(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.random((6, 7, 5)).astype(np.float32)
    affine = np.array([[-0.9, 0, 0, 40.0], [0, 1.1, 0, -20.0], [0, 0, 2.5, 7.0], [0, 0, 0, 1]])
    path = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    image = read_image(path)
    canonical = nib.as_closest_canonical(nib.load(path))
    assert image.dimensions == 3 and image.voxel_spacing == pytest.approx((2.5, 1.1, 0.9))
    for frame, row, column in ((0, 0, 0), (4, 6, 5), (2, 3, 1)):
        voxel = np.array([canonical.shape[0] - 1 - column, canonical.shape[1] - 1 - row, frame, 1.0])
        assert image.affine @ [frame, row, column, 1.0] == pytest.approx(canonical.affine @ voxel)
        assert image.data[frame, row, column, 0] == pytest.approx(canonical.get_fdata()[tuple(voxel[:3].astype(int))])


def _series(count: int = 3) -> list[bytes]:
    files = []
    for k in range(count):
        ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
        ds.SOPInstanceUID = f"1.2.3.4.{k + 1}"
        position = [float(v) for v in ds.ImagePositionPatient]
        ds.ImagePositionPatient = [position[0], position[1], position[2] + 2.5 * k]
        ds.InstanceNumber = count - k  # the files' numbers run backwards: the positions decide the order
        buffer = io.BytesIO()
        ds.save_as(buffer)
        files.append(buffer.getvalue())
    return files[::-1]


def test_a_dicom_series_keeps_its_references_and_frame_positions_apart_from_what_is_shown(tmp_path):
    files = _series()
    image = read_dicom_series(files)
    source = pydicom.dcmread(dicom_file("CT_small.dcm"))
    refs = image.references
    assert image.dimensions == 3 and refs.instance_uids == ("1.2.3.4.1", "1.2.3.4.2", "1.2.3.4.3")
    assert refs.study_uid == source.StudyInstanceUID and refs.series_uid == source.SeriesInstanceUID
    assert refs.frame_of_reference_uid == source.FrameOfReferenceUID and refs.sop_class_uid == source.SOPClassUID
    origin = np.array([float(v) for v in source.ImagePositionPatient])
    for k in range(3):
        lps = origin + [0.0, 0.0, 2.5 * k]
        assert image.affine @ [k, 0, 0, 1.0] == pytest.approx([-lps[0], -lps[1], lps[2], 1.0])
    column_step = float(source.PixelSpacing[1]) * np.array([float(v) for v in source.ImageOrientationPatient[:3]])
    assert image.affine @ [0, 0, 1, 1.0] - image.affine @ [0, 0, 0, 1.0] == pytest.approx(
        [-column_step[0], -column_step[1], column_step[2], 0.0])
    shown = json.dumps(image.summary())
    assert source.StudyInstanceUID not in shown and "1.2.3.4.1" not in shown and "PatientName" not in shown


def test_a_single_dicom_image_is_two_dimensional_with_its_plane_placed():
    image = read_image(dicom_file("CT_small.dcm"))
    assert image.dimensions == 2 and image.references.instance_uids == (
        pydicom.dcmread(dicom_file("CT_small.dcm")).SOPInstanceUID,)
    assert image.voxel_spacing == pytest.approx(image.spacing)


def test_a_png_has_no_references_and_no_place():
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(buffer, format="PNG")
    image = read_image(buffer.getvalue(), "film.png")
    assert image.references is None and image.affine is None and image.dimensions == 2
