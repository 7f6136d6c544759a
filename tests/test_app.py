"""Streamlit AppTest of the app and the Upload page: no exception, uploads read, errors shown, state kept."""

from __future__ import annotations

import io
import zipfile

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, dicom_file

TIMEOUT = 60


@pytest.fixture
def upload_page() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app_pages" / "upload.py"), default_timeout=TIMEOUT)
    app.run()
    assert not app.exception
    return app


def _zip_of_classes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label in ("cats", "dogs"):
            for i in range(10):
                archive.writestr(f"pets/{label}/{i}.png", cv2.imencode(".png", np.full((16, 16), i * 9, np.uint8))[1])
    return buffer.getvalue()


def _image_captions(app: AppTest) -> list[str]:
    return [img.caption for element in app.get("image") for img in element.proto.imgs]


def test_app_opens_on_the_start_page_with_the_synthetic_set():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not app.exception
    assert app.title[0].value == "MedLab dashboard"
    assert "not a medical device" in app.warning[0].value  # the research-use notice, once, on the first screen
    links = {link.proto.label: link.proto.page for link in app.get("page_link")}
    assert {"Diagnose", "Choose a data set", "Training", "Nodule studio", "Annotate"} <= set(links)
    assert all(links.values())  # each takes the visitor to a page of the app
    sidebar = " ".join(m.value for m in app.sidebar.markdown) + " ".join(c.value for c in app.sidebar.caption)
    assert "Synthetic chest films" in sidebar and "Active model" in sidebar


def test_default_view_shows_the_synthetic_sample(upload_page):
    assert any("synthetic" in i.value for i in upload_page.info)
    assert any("patient identifiers" in c.value for c in upload_page.caption)  # where uploads go, and what not to send
    assert any(m.value == "DICOM · OT" for m in upload_page.metric)


def test_uploaded_dicom_is_shown_with_its_tags(upload_page):
    upload_page.file_uploader(key="image_files").upload("CT_small.dcm", dicom_file("CT_small.dcm").read_bytes())
    upload_page.run()
    assert not upload_page.exception and not upload_page.error
    assert any(m.value == "DICOM · CT" for m in upload_page.metric)
    table = upload_page.table[0].value
    assert "RescaleIntercept" in table.index and "PatientName" not in table.index


def test_window_presets_apply(upload_page):
    upload_page.file_uploader(key="image_files").upload("CT_small.dcm", dicom_file("CT_small.dcm").read_bytes())
    upload_page.run()
    upload_page.selectbox(key="window_preset").set_value("Lung").run()
    assert not upload_page.exception
    assert "window -600/1500" in _image_captions(upload_page)[0]
    upload_page.selectbox(key="window_preset").set_value("Custom").run()
    assert upload_page.slider(key="window_center") is not None and not upload_page.exception


def test_each_window_of_the_file_is_a_preset(upload_page, tmp_path):
    import pydicom

    ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth, ds.WindowCenterWidthExplanation = [-600, 40], [1500, 400], ["LUNG", "SOFT"]
    ds.save_as(tmp_path / "two.dcm")
    upload_page.file_uploader(key="image_files").upload("two.dcm", (tmp_path / "two.dcm").read_bytes())
    upload_page.run()
    options = upload_page.selectbox(key="window_preset").options
    assert options[:2] == ["File: LUNG (-600/1500)", "File: SOFT (40/400)"]
    upload_page.selectbox(key="window_preset").set_value("File: SOFT (40/400)").run()
    assert "window 40/400" in _image_captions(upload_page)[0]


def test_multi_frame_file_gets_a_frame_slider(upload_page):
    upload_page.file_uploader(key="image_files").upload("emri.dcm", dicom_file("emri_small.dcm").read_bytes())
    upload_page.run()
    assert upload_page.slider(key="frame_index").max == 10
    upload_page.slider(key="frame_index").set_value(7).run()
    assert "frame 7/10" in _image_captions(upload_page)[0]


def test_bad_image_shows_an_error_and_keeps_the_previous_image(upload_page):
    uploader = upload_page.file_uploader(key="image_files")
    uploader.upload("CT_small.dcm", dicom_file("CT_small.dcm").read_bytes())
    upload_page.run()
    upload_page.file_uploader(key="image_files").set_value(("notes.dcm", b"hello, not an image", "text/plain"))
    upload_page.run()
    assert not upload_page.exception
    assert "not DICOM" in upload_page.error[0].value
    assert any(m.value == "DICOM · CT" for m in upload_page.metric)


def test_dataset_upload_becomes_active_and_a_bad_one_keeps_it(upload_page):
    upload_page.radio(key="dataset_source").set_value("Upload a data set").run()
    upload_page.file_uploader(key="dataset_file").set_value(("pets.zip", _zip_of_classes(), "application/zip"))
    upload_page.run()
    assert not upload_page.exception and not upload_page.error
    assert upload_page.session_state["active_dataset"].class_names == ["cats", "dogs"]
    broken = b"PK\x03\x04" + b"\x00" * 40
    upload_page.file_uploader(key="dataset_file").set_value(("broken.zip", broken, "application/zip"))
    upload_page.run()
    assert not upload_page.exception
    assert "not a valid ZIP" in upload_page.error[0].value
    assert upload_page.session_state["active_dataset"].class_names == ["cats", "dogs"]


def test_a_data_set_on_the_server_is_listed_and_becomes_active(tmp_path, monkeypatch):
    with zipfile.ZipFile(io.BytesIO(_zip_of_classes())) as archive:
        archive.extractall(tmp_path / "pets")
    (tmp_path / "ct_nodules" / "patches").mkdir(parents=True)  # CT nodules for simulation: not a set to train on
    (tmp_path / "ct_nodules" / "nodules.csv").write_text("patch,mask,diameter_mm\n")
    (tmp_path / "README.md").write_text("what the sets are")
    monkeypatch.setenv("MEDLIB_DATA", str(tmp_path))
    app = AppTest.from_file(str(ROOT / "app_pages" / "upload.py"), default_timeout=TIMEOUT).run()
    app.radio(key="dataset_source").set_value("A data set on this server").run()
    listing = app.dataframe[0].value
    assert listing["data set"].tolist() == ["pets"] and listing["files"].tolist() == [20]
    app.button(key="use_server_set").click().run()
    assert not app.exception and not app.error
    assert app.session_state["active_dataset"].class_names == ["cats", "dogs"]
    assert app.subheader[0].value == "pets"  # its summary below

    monkeypatch.setenv("MEDLIB_DATA", str(tmp_path / "absent"))
    bare = AppTest.from_file(str(ROOT / "app_pages" / "upload.py"), default_timeout=TIMEOUT).run()
    assert "A data set on this server" not in bare.radio(key="dataset_source").options


def test_choosing_another_synthetic_set(upload_page):
    upload_page.number_input(key="phantom_n").set_value(60)
    upload_page.selectbox(key="phantom_size").set_value(64)
    upload_page.button(key="use_phantom").click().run()
    assert not upload_page.exception
    dataset = upload_page.session_state["active_dataset"]
    assert len(dataset) == 60 and dataset.image_size == (64, 64)


def test_page_files_are_not_in_a_legacy_pages_folder():
    # Streamlit runs files in a `pages/` folder beside app.py as a legacy multipage app on a fresh
    # server's first deep link, skipping app.py's navigation and sidebar.
    assert not (ROOT / "pages").exists()
    assert (ROOT / "app_pages" / "upload.py").is_file()


def test_preprocessing_and_augmentation_follow_a_new_set_unless_changed(upload_page):
    upload_page.selectbox(key="phantom_size").set_value(64)
    upload_page.button(key="use_phantom").click().run()
    assert upload_page.session_state["active_preprocess"]["steps"][1]["params"]["height"] == 64
    assert any("preprocessing now follows this data set" in c.value for c in upload_page.caption)
    changed = {**upload_page.session_state["active_augment"], "steps": []}
    upload_page.session_state["active_augment"] = changed  # the user emptied the augmentation
    upload_page.selectbox(key="phantom_size").set_value(256).run()
    upload_page.button(key="use_phantom").click().run()
    assert not upload_page.exception
    assert upload_page.session_state["active_preprocess"]["steps"][1]["params"]["height"] == 128  # at most 128
    assert upload_page.session_state["active_augment"] == changed
    assert any("Your changed augmentation is kept" in c.value for c in upload_page.caption)
