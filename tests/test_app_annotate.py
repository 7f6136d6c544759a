"""AppTest of the Annotate page on the built-in synthetic set, with the models that ship in models/."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from medlib.datasets import load_dataset
from tests.conftest import ROOT

pytest.importorskip("tensorflow")


@pytest.fixture
def page(monkeypatch) -> AppTest:
    monkeypatch.setenv("MEDLIB_MODELS", str(ROOT / "models"))
    app = AppTest.from_file(str(ROOT / "app_pages" / "annotate.py"), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def _progress(app: AppTest) -> str:
    return next(bar.proto.text for bar in app.get("progress"))


def test_the_models_fill_an_image_in_and_a_save_lands_in_a_set_medlib_reads(page):
    assert page.title[0].value == "Annotate"
    assert page.selectbox(key="an_classifier_synthetic").value == "chest-classifier"
    assert page.selectbox(key="an_segmenter_synthetic").value == "chest-lesions"
    assert _progress(page) == "0 of 300 labelled"
    assert page.radio(key="an_tool").options == ["Circle a finding", "Outline a structure"]
    assert page.selectbox(key="an_structure").options == ["lesion"]  # what chest-lesions outlines
    proposed = page.selectbox(key="an_class.Synthetic_chest_films_phantom-labels.phantom-00000").value
    assert proposed in ("normal", "nodule", "consolidation")  # the classifier's class, to correct
    assert any("phantom-00000 · 128×128 pixels" in c.value for c in page.caption)

    page.button(key="an_save_next").click().run()
    assert not page.exception, page.exception
    assert any("Saved phantom-00000 to Synthetic_chest_films_phantom-labels: images/phantom-00000.png (128×128)"
               in s.value for s in page.success)
    assert _progress(page) == "1 of 300 labelled"
    assert page.number_input(key="an_index").value == 2  # on to the next image
    assert [s.value for s in page.subheader] == ["The labelled set Synthetic_chest_films_phantom-labels",
                                                "Train from my labels"]
    assert any("Not yet: the set has 1 image(s) to learn from" in c.value or "Not yet: the set has 0 image(s)"
               in c.value for c in page.caption)  # too few labels to train again: it says what is needed
    assert any("you corrected 0 of" in m.value.lower() for m in page.markdown)  # nothing changed against the models

    page.selectbox(key="an_class.Synthetic_chest_films_phantom-labels.phantom-00001").set_value("consolidation")
    page.button(key="an_save").click().run()
    assert _progress(page) == "2 of 300 labelled"
    folder = page.session_state["workspace"].labelled / "Synthetic_chest_films_phantom-labels"
    saved = load_dataset(folder)
    assert len(saved) == 2 and saved.image_size == (128, 128) and saved.structures == ["lesion"]
    assert page.get("download_button")  # the set as a ZIP

    page.button(key="an_previous").click().run()  # back to the first image: its saved labels, not a new proposal
    assert page.number_input(key="an_index").value == 1
    assert page.selectbox(key="an_class.Synthetic_chest_films_phantom-labels.phantom-00000").value == proposed

    page.button(key="an_dicom").click().run()  # its saved labels as DICOM: the SR, and the image they cite
    assert not page.exception, page.exception
    (download,) = [d for d in page.get("download_button") if d.proto.label.startswith("Download the saved labels")]
    assert download.proto.label == "Download the saved labels as DICOM SEG and SR (ZIP)"


def test_without_models_the_class_must_be_chosen_before_a_save(page):
    for part in ("classifier", "segmenter", "locator"):
        page.selectbox(key=f"an_{part}_synthetic").set_value("none")
    page.text_input(key="an_set.Synthetic chest films (phantom)").set_value("by hand").run()
    assert not page.exception, page.exception
    assert page.selectbox(key="an_class.by_hand.phantom-00000").value is None  # the set's classes, none chosen
    assert page.button(key="an_save").disabled
    assert page.radio(key="an_tool").options == ["Circle a finding"]  # no structure to outline yet
    page.selectbox(key="an_class.by_hand.phantom-00000").set_value("normal").run()
    assert not page.button(key="an_save").disabled


def test_a_large_film_gets_its_label_map_at_its_own_size(page):
    import cv2
    import numpy as np

    film = np.zeros((2048, 1700), np.uint16)
    cv2.circle(film, (850, 1000), 600, 3000, -1)  # a 12-bit film, larger than the screen shows
    page.radio(key="an_source").set_value("Upload files").run()
    page.file_uploader(key="an_files").upload("big film.png", cv2.imencode(".png", film)[1].tobytes()).run()
    assert not page.exception, page.exception
    assert any("big film.png · 1700×2048 pixels" in c.value for c in page.caption)
    if page.selectbox(key="an_class.uploads-labels.big film.png").value is None:
        page.selectbox(key="an_class.uploads-labels.big film.png").set_value("NORMAL").run()
    page.button(key="an_save").click().run()
    assert not page.exception, page.exception
    folder = page.session_state["workspace"].labelled / "uploads-labels"
    saved = cv2.imread(str(folder / "images" / "big_film.png"), cv2.IMREAD_UNCHANGED)
    assert saved.shape == (2048, 1700) and saved.dtype == np.uint16 and int(saved.max()) == 3000
    label_map = cv2.imread(str(folder / "masks" / "big_film.png"), cv2.IMREAD_UNCHANGED)
    assert label_map.shape == (2048, 1700)  # the anatomy model's structures, at the film's own size


def test_labels_of_uploads_are_found_again_when_the_files_are_gone_and_come_back(page):
    import cv2
    import numpy as np

    film = cv2.imencode(".png", np.full((64, 80), 100, np.uint8))[1].tobytes()
    page.radio(key="an_source").set_value("Upload files").run()
    page.file_uploader(key="an_files").upload("film.png", film).run()
    page.selectbox(key="an_class.uploads-labels.film.png").set_value("PNEUMONIA").run()
    page.button(key="an_save").click().run()
    assert not page.exception, page.exception
    page.file_uploader(key="an_files").clear().run()  # as after a reload: the upload is gone
    kept = [m.value for m in page.markdown if m.value.startswith("**uploads-labels**")]
    assert kept and "1 image(s) saved" in kept[0]
    assert any(d.proto.label == "Download uploads-labels (ZIP)" for d in page.get("download_button"))
    page.file_uploader(key="an_files").upload("film.png", film).run()  # the same file again: its labels
    assert page.selectbox(key="an_class.uploads-labels.film.png").value == "PNEUMONIA"
    assert next(bar.proto.text for bar in page.get("progress")) == "1 of 1 labelled"
