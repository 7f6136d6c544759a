"""AppTest of the Diagnose page with the default models that ship in models/."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from medlib.answers.diagnose import diagnose
from medlib.datasets.phantom import make_phantom
from medlib.datasets.phantom_export import dicom_bytes
from medlib.input import read_image
from medlib.models.loaded import open_model
from medlib.preprocessing.pipeline import make_pipeline
from tests.conftest import ROOT, dicom_file

pytest.importorskip("tensorflow")

MODELS = ROOT / "models"


@pytest.fixture
def page(monkeypatch) -> AppTest:
    monkeypatch.setenv("MEDLIB_MODELS", str(MODELS))
    app = AppTest.from_file(str(ROOT / "app_pages" / "diagnose.py"), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    assert any("patient identifiers" in c.value for c in app.caption)  # where uploads go, and what not to send
    return app


def _upload(app: AppTest, name: str, data: bytes, synthetic_models: bool = False) -> AppTest:
    app.radio(key="dx_source").set_value("Upload files").run()
    if synthetic_models:  # uploads default to the real-film models; the synthetic films need their own
        app.selectbox(key="dx_classifier_real").set_value("chest-classifier")
        app.selectbox(key="dx_segmenter_real").set_value("chest-lesions")
        app.selectbox(key="dx_locator_real").set_value("none")
    app.file_uploader(key="dx_files").upload(name, data)
    return app.run()


def _captions(app: AppTest) -> list[str]:
    """What the picture's caption says (the line under the viewer)."""
    return [c.value for c in app.caption]


def test_a_real_sample_film_is_diagnosed_by_the_real_film_models(page):
    assert page.radio(key="dx_source").value == "A real sample film"
    assert page.selectbox(key="dx_classifier_real").value == "cxr-pneumonia"
    assert page.selectbox(key="dx_segmenter_real").value == "cxr-anatomy"
    assert page.selectbox(key="dx_locator_real").value == "cxr-nodule"
    assert any("Research tool, not a medical device" in w.value for w in page.warning)
    assert not page.error
    assert page.subheader[0].value in ("NORMAL", "PNEUMONIA")
    assert any("threshold, chosen on validation" in c.value for c in page.caption)
    bars = [bar.proto for bar in page.get("progress")]  # one per class, with its probability
    assert [bar.text.split(":")[0] for bar in bars] == ["NORMAL", "PNEUMONIA"]
    assert sum(bar.value for bar in bars) in range(99, 102)  # in percent, rounded
    assert any("Kermany" in c for c in _captions(page)) or any("Kermany" in c.value for c in page.caption)
    assert any("right lung, left lung, heart outlined by cxr-anatomy" in c for c in _captions(page))
    headings = [h.value for h in page.subheader]
    # the shipped nodule detector's validation FROC makes its candidates detections: counted at its threshold
    assert "Anatomy" in headings and any("nodule candidate" in h for h in headings)
    assert "Evidence for a nodule, not detections" not in headings
    page.selectbox(key="dx_real_sample").set_value("normal (adult)").run()  # the anatomy model's population
    assert not page.exception
    assert page.metric[0].label == "Cardiothoracic ratio (view not given)" and 0.2 < float(page.metric[0].value) < 0.8


def test_an_implausible_outline_is_called_unreliable_and_gives_no_ratio(page):
    # a child's film, outside the anatomy model's population: the heart it outlines there fails its checks
    page.selectbox(key="dx_real_sample").set_value("pneumonia (child)").run()
    assert not page.exception
    assert any("outline is unreliable" in w.value for w in page.warning)
    assert not [m for m in page.metric if m.label.startswith("Cardiothoracic ratio")]
    assert any(c.value.startswith("No cardiothoracic ratio: it would rest on an unreliable outline") for c in
               page.caption)


def _downloads(app: AppTest) -> list[str]:
    return [button.proto.label for button in app.get("download_button")]


def test_the_answer_is_prepared_for_download_on_request_and_goes_stale_with_a_new_answer(page):
    assert not _downloads(page) and not page.checkbox  # a JPEG: no patient identifier to keep
    page.button(key="dx_prepare").click().run()
    assert not page.exception, page.exception
    assert _downloads(page) == ["Label map (PNG)", "Image (DICOM)", "DICOM SEG", "DICOM SR", "Report (HTML)",
                                "All (ZIP)"]  # a JPEG has no DICOM file to cite: itself as a Secondary Capture
    page.slider(key="dx_heat_opacity").set_value(0.9).run()  # another picture: the files no longer match it
    assert not _downloads(page) and page.button(key="dx_prepare")


def test_the_synthetic_sample_gets_the_synthetic_models(page):
    page.radio(key="dx_source").set_value("A synthetic sample film").run()
    assert page.selectbox(key="dx_classifier_synthetic").value == "chest-classifier"
    assert page.selectbox(key="dx_segmenter_synthetic").value == "chest-lesions"
    assert page.subheader[0].value.startswith(("normal", "nodule", "consolidation"))
    captions = _captions(page)
    assert any("Grad-CAM" in c for c in captions) and any("lesion outlines by chest-lesions" in c for c in captions)


def test_a_colour_photograph_gets_the_gate_message_instead_of_a_diagnosis(page):
    photo = np.random.default_rng(0).integers(0, 256, (120, 160, 3), np.uint8)
    photo[:, :, 0] = 255  # strongly red
    _upload(page, "photo.png", _png(photo))
    assert not page.exception
    assert any("outside what the models were trained on" in e.value for e in page.error)
    assert not page.subheader or not page.subheader[0].value.startswith(("NORMAL", "PNEUMONIA"))
    assert any("not a finding" in e.label for e in page.expander)


def test_films_uploaded_one_after_another_are_separate_images_newest_chosen(page):
    first = (ROOT / "samples" / "IM-0141-0001.jpeg").read_bytes()
    second = (ROOT / "samples" / "person1001_bacteria_2932.jpeg").read_bytes()
    page.radio(key="dx_source").set_value("Upload files").run()
    page.file_uploader(key="dx_files").set_value([("first.jpeg", first, "image/jpeg"),
                                                  ("second.jpeg", second, "image/jpeg")]).run()
    assert not page.exception and not page.error
    picker = next(box for box in page.selectbox if box.label == "Uploaded image")
    assert picker.options == ["first.jpeg", "second.jpeg"] and picker.value == 1  # the newest
    assert any("second.jpeg" in c.value for c in page.caption)


def test_a_full_size_jpeg_is_decoded_at_a_reduced_scale_and_says_so(page):
    import cv2

    film = cv2.imread(str(ROOT / "samples" / "IM-0141-0001.jpeg"), cv2.IMREAD_GRAYSCALE)
    full = cv2.resize(film, (2800, 3000), interpolation=cv2.INTER_LINEAR)  # over twice the screen side
    _upload(page, "full.jpeg", cv2.imencode(".jpg", full)[1].tobytes())
    assert not page.exception and not page.error
    assert any("The file's 2800×3000 pixels were decoded at 1400×1500" in c.value for c in page.caption)
    assert page.subheader[0].value in ("NORMAL", "PNEUMONIA")


def test_an_uploaded_dicom_film_shows_class_overlay_and_lesion_table(page):
    film = make_phantom(6, size=192, seed=11).images[2, ..., 0]  # a consolidation, at a size no model was trained on
    _upload(page, "film.dcm", dicom_bytes(film, "upload"), synthetic_models=True)
    assert not page.exception and not page.error
    assert page.subheader[0].value.startswith("consolidation")
    lesions = page.table[0].value
    assert len(lesions) >= 1 and {"area_px", "mean_probability", "box (x0, y0, x1, y1)"} <= set(lesions.columns)
    page.slider(key="dx_opacity").set_value(0.8).run()
    assert not page.exception
    page.button(key="dx_prepare").click().run()
    assert not page.exception, page.exception
    assert _downloads(page) == ["Label map (PNG)", "Image (DICOM)", "DICOM SEG", "DICOM SR", "Report (HTML)",
                                "All (ZIP)"]
    assert any("no Study and Series UIDs" in c.value or "new study" in c.value for c in page.caption)


def test_a_real_ct_dicom_is_refused_by_the_gate_and_a_bad_file_named(page):
    _upload(page, "CT_small.dcm", dicom_file("CT_small.dcm").read_bytes())
    assert not page.exception
    assert any("outside what the models were trained on" in e.value for e in page.error)
    assert any("frame 1/1" in c.value for c in page.caption)
    page.file_uploader(key="dx_files").upload("broken.dcm", b"DICM but not really").run()
    assert not page.exception
    assert any("broken.dcm" in e.value for e in page.error)


def test_maps_come_back_onto_the_image_through_resize_and_padding():
    wide = make_pipeline(("resize", {"height": 64, "width": 64, "mode": "pad"}))
    values = np.zeros((64, 64), np.float32)
    values[16:48, 0:64] = 1.0  # the whole image, which a 128 × 256 picture fills in rows 16..47
    back = wide.run(np.zeros((128, 256))).geometry.to_input(values)
    assert back.shape == (128, 256) and back.min() == pytest.approx(1.0)
    cropping = make_pipeline(("crop", {"mode": "center", "fraction": 0.5}))
    assert cropping.run(np.zeros((64, 64))).geometry.to_input(values) is None


def _png(array: np.ndarray) -> bytes:
    import cv2

    return cv2.imencode(".png", array)[1].tobytes()


def test_diagnose_finds_the_lesions_of_a_synthetic_film():
    data = make_phantom(3, size=128, seed=5)
    result = diagnose(data.images[2], open_model(MODELS / "chest-classifier"), open_model(MODELS / "chest-lesions"),
                      spacing=(0.5, 0.5))
    assert result.predicted == "consolidation"
    assert result.heat.shape == result.lesion_probability.shape == (128, 128)
    truth = data.masks[2] > 0
    found = result.lesion_probability >= 0.5
    assert 2 * np.sum(truth & found) / (truth.sum() + found.sum()) > 0.5
    assert result.lesions and result.lesions[0]["area_mm2"] == pytest.approx(result.lesions[0]["area_px"] * 0.25)


def test_a_large_film_worked_on_at_screen_size_keeps_its_findings_in_its_own_pixels():
    import cv2

    from medlib.answers.picture import diagnosis_picture

    film = make_phantom(3, size=128, seed=5).images[2]
    large = cv2.resize(film, (512, 512), interpolation=cv2.INTER_NEAREST)[..., None]  # the same film, 4× the pixels
    models = open_model(MODELS / "chest-classifier"), open_model(MODELS / "chest-lesions")
    whole = diagnose(large, *models, spacing=(0.5, 0.5))
    screen = diagnose(large, *models, spacing=(0.5, 0.5), work_side=128)
    assert screen.predicted == whole.predicted and screen.image_size == (512, 512)
    assert screen.heat.shape == screen.lesion_probability.shape == (128, 128)  # the maps at the working size
    assert whole.lesion_probability.shape == (512, 512)
    first, second = screen.lesions[0], whole.lesions[0]
    assert np.allclose(first["box"], second["box"], atol=8)  # in the film's own pixels, to the working pixel
    assert first["area_px"] == pytest.approx(second["area_px"], rel=0.15)
    assert first["area_mm2"] == pytest.approx(first["area_px"] * 0.25, rel=0.01)
    picture = diagnosis_picture(np.zeros((256, 256), np.uint8), screen)  # drawn on a picture of a third size
    assert picture.shape == (256, 256, 3) and picture[..., 0].max() == 255
    # the same film as a JPEG decoded at a quarter of its size, as the page reads an upload
    eight_bit = np.round(np.clip(large[..., 0], 0, 1) * 255).astype(np.uint8)
    jpeg = read_image(cv2.imencode(".jpg", eight_bit, [cv2.IMWRITE_JPEG_QUALITY, 98])[1].tobytes(), reduce_to=128)
    assert (jpeg.height, jpeg.width, jpeg.source_size) == (128, 128, (512, 512))
    reduced = diagnose(jpeg.frame(0)[..., None], *models, spacing=(0.5, 0.5), work_side=128,
                       source_size=jpeg.source_size)
    assert reduced.predicted == whole.predicted and reduced.image_size == (512, 512)
    third = reduced.lesions[0]
    assert np.allclose(third["box"], second["box"], atol=8)  # still in the file's own pixels
    assert third["area_px"] == pytest.approx(second["area_px"], rel=0.15)
    assert third["area_mm2"] == pytest.approx(third["area_px"] * 0.25, rel=0.01)


def test_no_patient_tag_reaches_the_page(page, tmp_path):
    import pydicom

    planted = pydicom.dcmread(dicom_file("CT_small.dcm"))
    planted.PatientName, planted.PatientID, planted.PatientBirthDate = "Planted^Patient", "PLANTED-4711", "19010101"
    planted.InstitutionName = "Planted General Hospital"
    planted.save_as(tmp_path / "planted.dcm")
    _upload(page, "scan.dcm", (tmp_path / "planted.dcm").read_bytes())
    assert not page.exception
    elements = (*page.markdown, *page.caption, *page.subheader, *page.info, *page.warning)
    texts = [t.value.to_string() for t in page.table] + [e.value for e in elements]
    shown = "\n".join(texts + [i.proto.imgs[0].caption for i in page.get("image")])
    assert "RescaleIntercept" in shown  # the technical tags are there
    for secret in ("Planted", "PLANTED-4711", "19010101"):
        assert secret not in shown
    # the gate refused it: the reason and the report, no SEG or SR, no candidate slider, no made-up score
    assert _downloads(page) == ["Report (HTML)"] and not any(b.key == "dx_prepare" for b in page.button)
    assert not any(s.key.startswith("dx_candidates") for s in page.slider)
    assert "outside what the models were trained on" in page.error[0].value and "999" not in page.error[0].value


def test_keeping_the_identifiers_is_a_visible_choice_off_by_default(page):
    _upload(page, "film.dcm", dicom_file("RG1_UNCR.dcm").read_bytes())  # a real CR film
    assert not page.exception
    keep = page.checkbox(key="dx_keep_identifiers")
    assert keep.value is False and "identifiers" in keep.label


def test_a_volume_is_outlined_in_three_planes_with_its_structures_in_ml(toy_volume_model, monkeypatch):
    loaded, _, root = toy_volume_model
    monkeypatch.setenv("MEDLIB_MODELS", str(loaded.stored.path.parent))
    app = AppTest.from_file(str(ROOT / "app_pages" / "diagnose.py"), default_timeout=120)
    app.run()
    app.radio(key="dx_source").set_value("Upload files").run()
    app.file_uploader(key="dx_files").upload("v0.nii.gz", (root / "imagesTr" / "v0.nii.gz").read_bytes())
    app.run()
    assert not app.exception, app.exception
    assert app.selectbox(key="dx_volume_model").value == "spheres"
    assert any(h.value == "sphere, ellipsoid outlined by spheres" for h in app.subheader)
    assert [s.label for s in app.slider] == ["Axial slice", "Coronal slice", "Sagittal slice"]
    table = app.table[0].value
    assert table.index.tolist() == ["sphere", "ellipsoid"] and table["volume"].str.endswith(" mL").all()
    assert not app.get("download_button")  # written when asked
    app.button(key="dx_prepare").click().run()
    assert not app.exception, app.exception
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels == ["Label volume (NIfTI)", "Report (HTML)", "All (ZIP)"]
    assert any("no DICOM answer" in c.value and "NIfTI" in c.value for c in app.caption)  # no DICOM file to cite


def test_a_nodule_model_without_a_validated_froc_shows_evidence_never_a_count(monkeypatch, tmp_path):
    """The same page with a nodule model whose card shows no validated localization (a copy of the shipped one
    whose validation FROC is set under the bar): its marks are evidence, never counted in a heading."""
    import shutil

    from medlib.store.folders import get_model, update_card

    for name in ("cxr-pneumonia", "cxr-anatomy", "cxr-nodule"):
        shutil.copytree(MODELS / name, tmp_path / name)
    copy = get_model("cxr-nodule", tmp_path)
    update_card(copy, metrics={**copy.card.metrics, "val": {**copy.card.metrics["val"], "sensitivity_at_1fp": 0.01}})
    monkeypatch.setenv("MEDLIB_MODELS", str(tmp_path))
    app = AppTest.from_file(str(ROOT / "app_pages" / "diagnose.py"), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    headings = [h.value for h in app.subheader]
    assert "Evidence for a nodule, not detections" in headings and not any("candidate(s)" in h for h in headings)
    assert any("has not shown on validation films that its marks find nodules (they hit 1%" in c.value
               for c in app.caption)
