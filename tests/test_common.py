"""One contract for every reader: the same checks on a sample of each format."""

from __future__ import annotations

import gzip
import io
import json

import cv2
import nibabel as nib
import numpy as np
import pytest
import tifffile
from PIL import Image

from medlib.input import read_image
from tests.conftest import dicom_file

_GRAY = (np.arange(24 * 32).reshape(24, 32) % 251).astype(np.uint8)


def _nifti(gz: bool) -> bytes:
    raw = nib.Nifti1Image(np.stack([_GRAY.T.astype(np.float32)] * 3, axis=-1), np.eye(4)).to_bytes()
    return gzip.compress(raw) if gz else raw


def _pillow(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_GRAY).save(buffer, format=fmt)
    return buffer.getvalue()


def _tiff() -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, _GRAY.astype(np.uint16) * 200)
    return buffer.getvalue()


def _npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, _GRAY.astype(np.float64))
    return buffer.getvalue()


SAMPLES = {
    "png": lambda: (cv2.imencode(".png", _GRAY)[1].tobytes(), "a.png"),
    "png16": lambda: (cv2.imencode(".png", _GRAY.astype(np.uint16) * 257)[1].tobytes(), "a.png"),
    "jpeg": lambda: (_pillow("JPEG"), "a.jpg"),
    "bmp": lambda: (_pillow("BMP"), "a.bmp"),
    "gif": lambda: (_pillow("GIF"), "a.gif"),
    "tiff": lambda: (_tiff(), "a.tif"),
    "npy": lambda: (_npy(), "a.npy"),
    "nifti": lambda: (_nifti(False), "a.nii"),
    "nifti-gz": lambda: (_nifti(True), "a.nii.gz"),
    "dicom": lambda: (dicom_file("MR_small.dcm").read_bytes(), "a.dcm"),
    "dicom-multiframe": lambda: (dicom_file("emri_small.dcm").read_bytes(), "mf"),
}


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_reader_contract(kind):
    data, name = SAMPLES[kind]()
    before = bytes(data)
    first, second = read_image(data, name=name), read_image(data, name=name)
    assert data == before
    assert first.data.dtype == np.float32 and first.data.ndim == 4
    assert first.data.shape[-1] in (1, 3)
    assert np.isfinite(first.data).all()
    assert np.array_equal(first.data, second.data)
    expected = [first.frames] if first.frames > 1 else []
    expected += [first.height, first.width] + ([3] if first.channels == 3 else [])
    assert list(first.pixels.shape) == expected
    json.dumps(first.summary())
    low, high = first.value_range()
    assert first.default_window().width > 0 and low <= high
