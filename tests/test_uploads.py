"""Several uploads at once, header probes, pixel spacing and large JPEGs decoded at a reduced scale."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pydicom

from medlib.datasets.phantom_export import dicom_bytes
from medlib.input import read_image, read_uploads
from medlib.input.header import image_header


def _dicom(series: str | None, value: float, position: float = 0.0, spacing: str | None = None) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(np.full((16, 16), value), "upload")))
    if series is not None:
        ds.SeriesInstanceUID = series
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, position], [1, 0, 0, 0, 1, 0]
    if spacing is not None:
        ds.PixelSpacing = spacing
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def _jpeg(height: int, width: int, value: int = 120) -> bytes:
    return cv2.imencode(".jpg", np.full((height, width), value, np.uint8))[1].tobytes()


def test_films_uploaded_one_after_another_are_separate_images():
    uploads = read_uploads([_jpeg(40, 30), _jpeg(20, 50)], ["first.jpeg", "second.jpeg"])
    assert [u.name for u in uploads] == ["first.jpeg", "second.jpeg"]
    assert [(u.image.height, u.image.width) for u in uploads] == [(40, 30), (20, 50)]


def test_dicom_files_form_series_by_their_uid_not_by_their_size():
    files = [_dicom("1.2.3", 0.1, 0), _dicom("1.2.4", 0.9, 0), _dicom("1.2.3", 0.2, 1), _dicom(None, 0.5)]
    uploads = read_uploads(files, ["a1.dcm", "b1.dcm", "a2.dcm", "lone.dcm"])
    assert [u.name for u in uploads] == ["a1.dcm and 1 more (one series)", "b1.dcm", "lone.dcm"]
    assert [u.image.frames for u in uploads] == [2, 1, 1]


def test_a_bad_file_among_uploads_keeps_its_error_and_the_others_open():
    uploads = read_uploads([_jpeg(10, 10), b"not an image", b""], ["good.jpeg", "bad.png", "empty.png"])
    assert uploads[0].image is not None and uploads[0].error is None
    assert uploads[1].image is None and uploads[1].error.startswith("bad.png: its contents are not a PNG file (they "
                                                                    "are text)")
    assert "empty.png" in uploads[2].error and "0 bytes" in uploads[2].error


def test_a_pixel_spacing_of_zero_is_unknown():
    assert read_image(_dicom(None, 0.5, spacing="0\\0")).spacing is None
    assert read_image(_dicom(None, 0.5, spacing="0.2\\0.3")).spacing == (0.2, 0.3)


def test_headers_give_size_and_channels_without_decoding(tmp_path):
    gray, colour, dicom = tmp_path / "g.jpg", tmp_path / "c.png", tmp_path / "d.dcm"
    gray.write_bytes(_jpeg(30, 40))
    cv2.imwrite(str(colour), np.zeros((12, 7, 3), np.uint8))
    dicom.write_bytes(_dicom(None, 0.5))
    assert image_header(gray) == (30, 40, 1) and image_header(colour) == (12, 7, 3)
    assert image_header(dicom) == (16, 16, 1)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert image_header(tmp_path / "bad.png") is None


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_that_keeps_the_asked_side():
    film = _jpeg(1600, 1200)
    assert read_image(film).height == 1600
    reduced = read_image(film, reduce_to=300)
    assert (reduced.height, reduced.width) == (400, 300)  # 1/4: the smallest scale with a long side of at least 300
