"""AppTest of the Diagnose page with the default models that ship in models/."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from medlib.diagnose import back_to_image, diagnose
from medlib.inference import open_model
from medlib.phantom import make_phantom
from medlib.phantom_export import dicom_bytes
from medlib.preprocess import make_pipeline
from tests.conftest import ROOT, dicom_file

pytest.importorskip("tensorflow")

MODELS = ROOT / "models"


@pytest.fixture
def page(monkeypatch) -> AppTest:
    monkeypatch.setenv("MEDLIB_MODELS", str(MODELS))
    app = AppTest.from_file(str(ROOT / "app_pages" / "diagnose.py"), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def _upload(app: AppTest, name: str, data: bytes) -> AppTest:
    app.radio(key="dx_source").set_value("Upload a file").run()
    app.file_uploader(key="dx_files").upload(name, data)
    return app.run()


def test_the_default_models_are_preselected_and_the_sample_is_diagnosed(page):
    assert page.selectbox(key="dx_classify").value == "chest-classifier"
    assert page.selectbox(key="dx_segment").value == "chest-lesions"
    assert any("Research tool, not a medical device" in w.value for w in page.warning)
    assert page.subheader[0].value.startswith(("normal", "nodule", "consolidation"))
    captions = [image.proto.imgs[0].caption for image in page.get("image")]
    assert any("Grad-CAM" in c for c in captions) and any("lesions found by chest-lesions" in c for c in captions)


def test_an_uploaded_dicom_film_shows_class_overlay_and_lesion_table(page):
    film = make_phantom(6, size=192, seed=11).images[2, ..., 0]  # a consolidation, at a size no model was trained on
    _upload(page, "film.dcm", dicom_bytes(film, "upload"))
    assert not page.exception and not page.error
    assert page.subheader[0].value.startswith("consolidation")
    lesions = page.table[0].value
    assert len(lesions) >= 1 and {"area_px", "mean_probability", "box (x0, y0, x1, y1)"} <= set(lesions.columns)
    page.slider(key="dx_opacity").set_value(0.8).run()
    assert not page.exception


def test_a_real_ct_dicom_and_a_bad_file(page):
    _upload(page, "CT_small.dcm", dicom_file("CT_small.dcm").read_bytes())
    assert not page.exception and not page.error
    assert any("frame 1/1" in c.value for c in page.caption)
    _upload(page, "broken.dcm", b"DICM but not really")
    assert not page.exception
    assert page.error and "broken.dcm" in page.error[0].value


def test_maps_come_back_onto_the_image_through_resize_and_padding():
    wide = make_pipeline(("resize", {"height": 64, "width": 64, "mode": "pad"}))
    values = np.zeros((64, 64), np.float32)
    values[16:48, 0:64] = 1.0  # the whole image, which a 128 × 256 picture fills in rows 16..47
    back = back_to_image(values, wide, (128, 256))
    assert back.shape == (128, 256) and back.min() == pytest.approx(1.0)
    assert back_to_image(values, make_pipeline(("crop", {"mode": "center", "fraction": 0.5})), (64, 64)) is None


def test_diagnose_finds_the_lesions_of_a_synthetic_film():
    data = make_phantom(3, size=128, seed=5)
    result = diagnose(data.images[2], open_model(MODELS / "chest-classifier"), open_model(MODELS / "chest-lesions"),
                      spacing=(0.5, 0.5))  # fmt: skip
    assert result.predicted == "consolidation"
    assert result.heat.shape == result.lesion_probability.shape == (128, 128)
    truth = data.masks[2] > 0
    found = result.lesion_probability >= 0.5
    assert 2 * np.sum(truth & found) / (truth.sum() + found.sum()) > 0.5
    assert result.lesions and result.lesions[0]["area_mm2"] == pytest.approx(result.lesions[0]["area_px"] * 0.25)


def test_no_patient_tag_reaches_the_page(page, tmp_path):
    import pydicom

    planted = pydicom.dcmread(dicom_file("CT_small.dcm"))
    planted.PatientName, planted.PatientID, planted.PatientBirthDate = "Planted^Patient", "PLANTED-4711", "19010101"
    planted.InstitutionName = "Planted General Hospital"
    planted.save_as(tmp_path / "planted.dcm")
    _upload(page, "scan.dcm", (tmp_path / "planted.dcm").read_bytes())
    assert not page.exception and not page.error
    elements = (*page.markdown, *page.caption, *page.subheader, *page.info, *page.warning)
    texts = [t.value.to_string() for t in page.table] + [e.value for e in elements]
    shown = "\n".join(texts + [i.proto.imgs[0].caption for i in page.get("image")])
    assert "RescaleIntercept" in shown  # the technical tags are there
    for secret in ("Planted", "PLANTED-4711", "19010101"):
        assert secret not in shown
