"""A corpus of bad inputs made here: each gives its typed medlib error and writes nothing outside temp folders."""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medlib.datasets import load_upload
from medlib.datasets.archive import extract_zip
from medlib.errors import (
    CorruptFileError,
    DatasetError,
    EmptyFileError,
    ImageTooLargeError,
    MedlibError,
    NoPixelDataError,
    NotAnImageError,
    UnsafeArchiveError,
)
from medlib.readers import read_image
from tests.conftest import dicom_file


def _png(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _huge_png_header(side: int = 100_000) -> bytes:
    """A valid PNG signature and IHDR declaring side×side pixels, followed by a tiny data chunk."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def _dicom_without_pixels() -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.Modality, ds.PatientName, ds.Rows, ds.Columns = "CT", "Secret^Patient", 64, 64
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


_NOISE_PNG = _png(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8))
_GRAY_JPEG = cv2.imencode(".jpg", np.full((64, 64), 99, np.uint8))[1].tobytes()

IMAGE_CORPUS = {
    "empty file": (b"", "empty.png", EmptyFileError),
    "truncated PNG": (_NOISE_PNG[:300], "cut.png", CorruptFileError),
    "truncated JPEG": (_GRAY_JPEG[:200], "cut.jpg", CorruptFileError),
    "PNG declaring 10^10 pixels": (_huge_png_header(), "bomb.png", ImageTooLargeError),
    "text named .dcm": (b"patient: nobody\n" * 20, "notes.dcm", NotAnImageError),
    "text named .png": (b"just some text\n", "fake.png", NotAnImageError),
    "DICOM without pixel data": (_dicom_without_pixels(), "empty.dcm", NoPixelDataError),
}  # fmt: skip


@pytest.mark.parametrize("case", list(IMAGE_CORPUS))
def test_bad_image_gives_its_typed_error(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data, name, error = IMAGE_CORPUS[case]
    with pytest.raises(error) as caught:
        read_image(data, name=name)
    assert len(str(caught.value)) > 20
    assert "Secret" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_dicom_with_wrong_rows_and_columns_is_corrupt():
    dataset = pydicom.dcmread(dicom_file("CT_small.dcm"))
    dataset.Rows = 300
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    with pytest.raises(CorruptFileError, match="does not match its header"):
        read_image(buffer.getvalue(), name="ct.dcm")


def test_zip_slip_is_refused_and_nothing_escapes(tmp_path):
    target = tmp_path / "inside"
    target.mkdir()
    data = _zip({"normal/a.png": _png(np.zeros((8, 8), np.uint8)), "../escaped.txt": b"x"})
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract_zip(data, target)
    assert not (tmp_path / "escaped.txt").exists()
    assert list(target.iterdir()) == []


def test_absolute_zip_path_is_refused(tmp_path):
    with pytest.raises(UnsafeArchiveError):
        extract_zip(_zip({"/etc/evil.txt": b"x"}), tmp_path)


def test_zip_bomb_is_refused_before_extraction():
    leftovers = set(Path(tempfile.gettempdir()).glob("medlib-zip-*"))
    bomb = _zip({"data/zeros.png": b"\x00" * (20 << 20)})
    assert len(bomb) < 100_000
    with pytest.raises(UnsafeArchiveError, match="bomb"):
        load_upload(bomb, "bomb.zip")
    assert set(Path(tempfile.gettempdir()).glob("medlib-zip-*")) == leftovers


def test_zip_over_the_size_cap_is_refused(tmp_path):
    with pytest.raises(UnsafeArchiveError, match="expands"):
        extract_zip(_zip({"a.bin": bytes(np.random.default_rng(0).bytes(4096))}), tmp_path, max_bytes=1000)


def test_zip_with_too_many_entries_is_refused(tmp_path):
    with pytest.raises(UnsafeArchiveError, match="entries"):
        extract_zip(_zip({f"f{i}.txt": b"" for i in range(30)}), tmp_path, max_entries=20)


def test_csv_naming_missing_files():
    manifest = "path,label\nimg/a.png,normal\nimg/b.png,nodule\nimg/c.png,nodule\n"
    data = _zip({"set/manifest.csv": manifest.encode(), "set/img/a.png": _png(np.zeros((8, 8), np.uint8))})
    with pytest.raises(DatasetError, match=r"2 missing file\(s\): img/b.png \(line 3\); img/c.png \(line 4\)"):
        load_upload(data, "set.zip")


def test_single_class_set_is_refused():
    data = _zip({f"set/normal/{i}.png": _png(np.full((8, 8), i, np.uint8)) for i in range(4)})
    with pytest.raises(DatasetError, match="only one class"):
        load_upload(data, "set.zip")


def test_not_a_zip_at_all():
    with pytest.raises(DatasetError, match="not a valid ZIP"):
        load_upload(b"PK\x03\x04 this is not really a zip", "broken.zip")


def test_mask_of_another_size_is_refused():
    image, mask = _png(np.zeros((16, 16), np.uint8)), _png(np.zeros((8, 8), np.uint8))
    data = _zip({"s/images/1.png": image, "s/masks/1.png": mask})
    with pytest.raises(DatasetError, match="mask of 1"):
        load_upload(data, "s.zip")


SEEDS = [
    dicom_file("MR_small.dcm").read_bytes()[:4000],
    _png(np.eye(16, dtype=np.uint8) * 255),
    _dicom_without_pixels(),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    cut=st.integers(0, 4000),
    flips=st.lists(st.tuples(st.integers(0, 3999), st.integers(0, 255)), max_size=8),
    name=st.sampled_from(["x.dcm", "x.png", "x", "x.nii", "x.nii.gz", "x.tif", "x.npy"]),
)
def test_mutated_bytes_raise_only_medlib_errors(seed, cut, flips, name):
    data = bytearray(seed[:cut] if cut < len(seed) else seed)
    for position, value in flips:
        if position < len(data):
            data[position] = value
    try:
        read_image(bytes(data), name=name)
    except MedlibError:
        pass


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2048), name=st.sampled_from(["a.dcm", "a.png", "a.nii.gz", "a.npy", "a"]))
def test_random_bytes_raise_only_medlib_errors(data, name):
    try:
        read_image(data, name=name)
    except MedlibError:
        pass
