"""Readers on real DICOM files (pydicom-data) and on files of every other format made here."""

from __future__ import annotations

import io

import cv2
import nibabel as nib
import numpy as np
import pydicom
import pytest
import tifffile

from medlib.errors import CorruptFileError, NoPixelDataError, UnsupportedEncodingError
from medlib.input import read_image, read_series
from tests.conftest import dicom_file


@pytest.mark.parametrize(
    ("name", "modality", "shape"),
    [
        ("CT_small.dcm", "CT", (128, 128)),
        ("MR_small.dcm", "MR", (64, 64)),
        ("RG3_UNCR.dcm", "CR", (1760, 1760)),
        ("US1_UNCR.dcm", "US", (480, 640, 3)),
        ("SC_rgb.dcm", "OT", (100, 100, 3)),
        ("emri_small.dcm", "MR", (10, 64, 64)),
        ("SC_rgb_jpeg_dcmtk.dcm", "OT", (100, 100, 3)),
        ("JPGExtended.dcm", "NM", (1024, 256)),
        ("emri_small_jpeg_ls_lossless.dcm", "MR", (10, 64, 64)),
        ("US1_J2KR.dcm", "US", (480, 640, 3)),
        ("MR_small_RLE.dcm", "MR", (64, 64)),
        ("OBXXXX1A.dcm", "US", (600, 800, 3)),
    ],
)
def test_real_dicom_files_load(name, modality, shape):
    image = read_image(dicom_file(name))
    assert image.format == "dicom"
    assert image.modality == modality
    assert image.pixels.shape == shape
    assert image.data.dtype == np.float32
    assert np.isfinite(image.data).all()
    assert image.value_range()[1] > image.value_range()[0]


def test_ct_values_are_hounsfield_units():
    path = dicom_file("CT_small.dcm")
    raw = pydicom.dcmread(path).pixel_array.astype(np.float32)
    image = read_image(path)
    assert np.array_equal(image.pixels, raw * 1.0 - 1024.0)
    assert image.pixels.min() < -800  # air in the lungs


@pytest.mark.parametrize(
    ("compressed", "plain"),
    [
        ("MR_small_RLE.dcm", "MR_small.dcm"),
        ("emri_small_jpeg_ls_lossless.dcm", "emri_small.dcm"),
        ("US1_J2KR.dcm", "US1_UNCR.dcm"),
        ("emri_small_RLE.dcm", "emri_small.dcm"),
    ],
)
def test_lossless_encodings_decode_to_the_uncompressed_pixels(compressed, plain):
    assert np.array_equal(read_image(dicom_file(compressed)).data, read_image(dicom_file(plain)).data)


def test_lossy_jpeg_ybr_is_converted_to_rgb():
    lossy, plain = read_image(dicom_file("SC_rgb_jpeg_dcmtk.dcm")), read_image(dicom_file("SC_rgb.dcm"))
    assert lossy.photometric == "RGB"
    assert np.abs(lossy.data - plain.data).mean() < 3.0


def test_monochrome1_is_inverted():
    path = dicom_file("RG3_UNCR.dcm")
    raw = pydicom.dcmread(path).pixel_array.astype(np.float64).ravel()
    image = read_image(path)
    assert image.photometric == "MONOCHROME2"
    assert image.metadata["InvertedFromMONOCHROME1"] is True
    assert np.corrcoef(raw[::97], image.pixels.ravel()[::97])[0, 1] < -0.999
    assert image.window is not None
    # The file's window (centre 550 on 10 bits) is mirrored with the values.
    assert image.window.center == pytest.approx(1023 - 550)


def test_window_from_the_file_is_the_default():
    image = read_image(dicom_file("MR_small.dcm"))
    assert (image.window.center, image.window.width) == (600.0, 1600.0)


def test_voi_lut_table_is_applied():
    image = read_image(dicom_file("vlut_04.dcm"))
    assert image.metadata["VOILUTApplied"] is True
    assert image.window is None


def test_dicom_without_extension_is_found_by_its_marker():
    data = dicom_file("MR_small.dcm").read_bytes()
    assert read_image(data, name="IM000017").modality == "MR"


def test_patient_identity_never_leaves_the_reader():
    path = dicom_file("CT_small.dcm")
    dataset = pydicom.dcmread(path)
    secrets = [str(dataset.PatientName), str(dataset.PatientID)]
    summary = repr(read_image(path).summary())
    for secret in secrets:
        assert secret and secret not in summary
    for tag in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "AccessionNumber"):
        assert tag not in summary


def test_dicom_without_pixel_data_names_the_problem():
    with pytest.raises(NoPixelDataError, match="RTPLAN.*no pixel data"):
        read_image(dicom_file("rtplan.dcm"))


def test_truncated_dicom_is_corrupt():
    with pytest.raises(CorruptFileError, match="truncated"):
        read_image(dicom_file("emri_small_jpeg_2k_lossless_too_short.dcm"))


def test_undecodable_transfer_syntax_is_named(monkeypatch):
    path = dicom_file("MR_small_RLE.dcm")

    def no_decoder(self):
        raise NotImplementedError("no pixel data decoders available")

    monkeypatch.setattr(pydicom.Dataset, "pixel_array", property(no_decoder))
    with pytest.raises(UnsupportedEncodingError, match=r"RLE Lossless \(1\.2\.840\.10008\.1\.2\.5\)"):
        read_image(path)


def test_dicom_series_is_stacked_in_anatomical_order():
    files = [dicom_file(name).read_bytes() for name in ("MR_small.dcm", "MR_small_RLE.dcm")]
    image = read_series(files)
    assert image.frames == 2 and image.pixels.shape == (2, 64, 64)


def _encode(ext: str, array: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(ext, array)
    assert ok
    return encoded.tobytes()


def test_png_16_bit_keeps_its_values():
    array = (np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 21).astype(np.uint16)
    image = read_image(_encode(".png", array), name="scan.png")
    assert image.format == "png" and image.pixels.shape == (48, 64)
    assert np.array_equal(image.pixels, array.astype(np.float32))


@pytest.mark.parametrize("ext", [".png", ".bmp", ".jpg"])
def test_8_bit_colour_images(ext):
    array = np.zeros((20, 30, 3), np.uint8)
    array[..., 2] = 200  # red in OpenCV's BGR order
    image = read_image(_encode(ext, array), name=f"x{ext}")
    assert image.pixels.shape == (20, 30, 3) and image.photometric == "RGB"
    assert abs(float(image.pixels[..., 0].mean()) - 200) < 3


def test_tiff_16_bit_multi_page():
    array = np.arange(3 * 10 * 12, dtype=np.uint16).reshape(3, 10, 12) * 50
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, photometric="minisblack")
    image = read_image(buffer.getvalue(), name="stack.tif")
    assert image.frames == 3 and image.pixels.shape == (3, 10, 12)
    assert np.array_equal(image.pixels, array.astype(np.float32))


@pytest.mark.parametrize("gzipped", [False, True])
def test_nifti_volume_as_slices_with_spacing(tmp_path, gzipped):
    volume = np.random.default_rng(0).random((20, 30, 5)).astype(np.float32)
    image_nii = nib.Nifti1Image(volume, np.diag([0.8, 0.9, 2.5, 1.0]))
    path = tmp_path / ("v.nii.gz" if gzipped else "v.nii")
    nib.save(image_nii, path)
    image = read_image(path)
    assert image.format == "nifti"
    assert image.pixels.shape == (5, 30, 20)
    assert image.spacing == pytest.approx((0.9, 0.8)) and image.slice_spacing == pytest.approx(2.5)
    # Radiological view: slice k is the volume's plane z=k, rows anterior first, columns patient-right first.
    assert np.allclose(image.frame(2), volume[::-1, ::-1, 2].T)


def test_nifti_with_a_bad_header_is_corrupt(tmp_path):
    path = tmp_path / "v.nii"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), path)
    data = bytearray(path.read_bytes())
    data[40:56] = b"\xff" * 16  # the dim field
    with pytest.raises(CorruptFileError):
        read_image(bytes(data), name="v.nii")


def test_npy_numeric_array_loads_and_object_array_is_refused():
    buffer = io.BytesIO()
    np.save(buffer, np.arange(12.0).reshape(3, 4))
    assert read_image(buffer.getvalue(), name="a.npy").pixels.shape == (3, 4)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(UnsupportedEncodingError, match="Python objects"):
        read_image(buffer.getvalue(), name="evil.npy")


def _metaimage(sizes: tuple[int, ...], kind: str = "MET_SHORT", extra: str = "") -> bytes:
    header = (f"ObjectType = Image\nNDims = {len(sizes)}\nElementSpacing = {' '.join(['0.5'] * len(sizes))}\n"
              f"DimSize = {' '.join(map(str, sizes))}\nElementType = {kind}\n{extra}ElementDataFile = LOCAL\n")
    return header.encode()


def test_a_metaimage_reads_as_stored_with_its_spacing_and_a_2d_one_as_one_frame():
    volume = np.arange(4 * 3 * 2, dtype=np.int16).reshape(4, 3, 2) - 7  # ITK's (z, y, x)
    image = read_image(_metaimage((2, 3, 4)) + volume.tobytes(), name="patch.mha")
    assert image.format == "metaimage" and image.data.shape == (4, 3, 2, 1)
    assert np.array_equal(image.data[..., 0], volume) and image.metadata["MetaImageType"] == "int16"
    assert image.spacing == (0.5, 0.5) and image.slice_spacing == 0.5
    film = read_image(_metaimage((5, 3), "MET_USHORT") + np.full((3, 5), 4000, np.uint16).tobytes())
    assert film.data.shape == (1, 3, 5, 1) and film.data.max() == 4000


@pytest.mark.parametrize(("data", "error"), [
    (b"ObjectType = Image\nNDims = 3\nDimSize = 2 2\n", "no ElementDataFile"),
    (_metaimage((2, 3, 4)) + bytes(10), "truncated or damaged"),
    (_metaimage((60000, 60000, 60000)), "pixels per frame"),
    (_metaimage((2, 2), "MET_LONG_LONG"), "element type MET_LONG_LONG is not read"),
    (_metaimage((2, 2), extra="DimSize = two two\n"), "not a whole number"),
])
def test_a_broken_or_hostile_metaimage_gets_a_one_line_error(data, error):
    from medlib.errors import MedlibError

    with pytest.raises(MedlibError, match=error) as raised:
        read_image(data, name="bad.mha")
    assert "\n" not in str(raised.value)


def test_a_node21_patch_reads_as_50_cubed_hounsfield_units_at_1_mm(shared_data):
    patch = next(iter(sorted((shared_data / "node21_nodules" / "patches").glob("*.mha"))))
    image = read_image(patch)
    assert image.data.shape == (50, 50, 50, 1) and image.metadata["MetaImageType"] == "int16"
    assert image.spacing == (1.0, 1.0) and image.slice_spacing == 1.0
    assert -1100 <= image.data.min() < -500 < image.data.max() <= 3100  # lung air around a soft-tissue nodule


def test_every_window_the_file_names_is_kept_in_order(tmp_path):
    ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth = [-600, 40], [1500, 400]
    ds.WindowCenterWidthExplanation = ["LUNG", ""]
    ds.save_as(tmp_path / "two-windows.dcm")
    image = read_image(tmp_path / "two-windows.dcm")
    assert [(name, w.center, w.width) for name, w in image.windows] == [("LUNG", -600, 1500), ("window 2", 40, 400)]
    assert image.window == image.windows[0][1]  # the first is the default
