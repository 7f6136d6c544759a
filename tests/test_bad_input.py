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
import tifffile
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
from medlib.input import read_image
from tests.conftest import dicom_file


def _png(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _huge_png_header(side: int = 100_000) -> bytes:
    """A valid PNG signature and IHDR declaring side×side pixels, followed by a tiny data chunk."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def _huge_tiff_header(side: int = 100_000) -> bytes:
    """A little-endian TIFF whose one directory declares side×side 8-bit pixels, followed by 64 bytes of data."""
    entries = [(256, side), (257, side), (258, 8), (259, 1), (262, 1), (273, 0), (278, side), (279, 64)]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    directory = struct.pack("<H", len(entries))
    for tag, value in entries:  # every value as one LONG, which TIFF allows for these tags
        directory += struct.pack("<HHII", tag, 4, 1, data_offset if tag == 273 else value)
    return b"II*\x00" + struct.pack("<I", 8) + directory + struct.pack("<I", 0) + b"\x00" * 64


def _tiff(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    return buffer.getvalue()


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
_NOISE_TIFF = _tiff(np.random.default_rng(0).integers(0, 65535, (64, 64), dtype=np.uint16))

IMAGE_CORPUS = {
    "empty file": (b"", "empty.png", EmptyFileError),
    "truncated PNG": (_NOISE_PNG[:300], "cut.png", CorruptFileError),
    "truncated JPEG": (_GRAY_JPEG[:200], "cut.jpg", CorruptFileError),
    "truncated TIFF": (_NOISE_TIFF[:500], "cut.tif", CorruptFileError),
    "PNG declaring 10^10 pixels": (_huge_png_header(), "bomb.png", ImageTooLargeError),
    "TIFF declaring 10^10 pixels": (_huge_tiff_header(), "bomb.tif", ImageTooLargeError),
    "text named .dcm": (b"patient: nobody\n" * 20, "notes.dcm", NotAnImageError),
    "text named .png": (b"just some text\n", "fake.png", NotAnImageError),
    "DICOM without pixel data": (_dicom_without_pixels(), "empty.dcm", NoPixelDataError),
}


@pytest.mark.parametrize("case", list(IMAGE_CORPUS))
def test_bad_image_gives_its_typed_error(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data, name, error = IMAGE_CORPUS[case]
    with pytest.raises(error) as caught:
        read_image(data, name=name)
    assert len(str(caught.value)) > 20
    assert "Secret" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


DEGENERATE = {
    "constant 16-bit TIFF": (_tiff(np.full((64, 64), 1234, np.uint16)), "constant-16-bit.tif"),
    "1x1 PNG": (_png(np.full((1, 1), 7, np.uint8)), "one.png"),
}


@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_images_read_and_preprocess_to_finite_values(case):
    from medlib.preprocessing.pipeline import make_pipeline

    pipeline = make_pipeline(("resize", {"height": 32}), ("window", {}), ("normalize", {"method": "zscore"}))
    out, _ = pipeline.apply(read_image(*DEGENERATE[case]).pixels[..., None])
    assert out.shape == (32, 32, 1) and np.isfinite(out).all()


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


def test_zip_of_100000_tiny_entries_is_refused_by_the_default_cap(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(100_000):
            archive.writestr(f"set/{i}.png", b"")
    with pytest.raises(UnsafeArchiveError, match="entries"):
        extract_zip(buffer.getvalue(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_csv_naming_missing_files():
    manifest = "path,label\nimg/a.png,normal\nimg/b.png,nodule\nimg/c.png,nodule\n"
    data = _zip({"set/manifest.csv": manifest.encode(), "set/img/a.png": _png(np.zeros((8, 8), np.uint8))})
    with pytest.raises(DatasetError, match=r"2 missing file\(s\): img/b.png \(line 3\); img/c.png \(line 4\)"):
        load_upload(data, "set.zip")


def test_nested_zips_and_other_files_are_skipped_and_reported():
    films = {f"set/{c}/{i}.png": _png(np.full((8, 8), 40 * i + k, np.uint8)) for k, c in enumerate(("a", "b"))
             for i in range(4)}
    data = _zip({**films, "set/a/more.zip": _zip({"x.png": _png(np.zeros((8, 8), np.uint8))}), "set/notes.txt": b"hi"})
    dataset = load_upload(data, "set.zip")
    assert len(dataset) == 8 and dataset.class_names == ["a", "b"]
    assert any("more.zip" in note and "nested" in note for note in dataset.notes), dataset.notes


def test_csv_with_an_unlabelled_image_is_refused():
    manifest = "path,label\na.png,normal\nb.png,\n"
    data = _zip({"set/manifest.csv": manifest.encode(), "set/a.png": _png(np.zeros((8, 8), np.uint8)),
                 "set/b.png": _png(np.ones((8, 8), np.uint8))})
    with pytest.raises(DatasetError, match="have no label"):
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
