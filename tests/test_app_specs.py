"""AppTest of the Preprocessing and Augmentation pages: edit, preview, save, load, make active."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from medlib.preprocessing.pipeline import make_pipeline
from tests.conftest import ROOT, dicom_file

TIMEOUT = 60


def _page(name: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app_pages" / name), default_timeout=TIMEOUT)
    app.run()
    assert not app.exception
    return app


def _captions(app: AppTest) -> list[str]:
    return [img.caption for element in app.get("image") for img in element.proto.imgs]


@pytest.fixture
def preprocess() -> AppTest:
    return _page("preprocess.py")


def test_preprocessing_shows_every_stage(preprocess):
    captions = _captions(preprocess)
    assert [c.split(":")[0] for c in captions[:4]] == ["input", "color", "resize", "window"]
    assert any("Model input at its real size" in m.value for m in preprocess.markdown)


def test_add_move_remove_and_tune_steps(preprocess):
    preprocess.selectbox(key="preprocess_editor.add_choice").set_value("equalize")
    preprocess.button(key="preprocess_editor.add").click().run()
    assert [c.split(":")[0] for c in _captions(preprocess)[:5]] == ["input", "color", "resize", "window", "equalize"]
    preprocess.button(key="preprocess_editor.3.up").click().run()
    assert [c.split(":")[0] for c in _captions(preprocess)[:5]] == ["input", "color", "resize", "equalize", "window"]
    preprocess.button(key="preprocess_editor.1.remove").click().run()
    assert [c.split(":")[0] for c in _captions(preprocess)[:4]] == ["input", "color", "equalize", "window"]
    preprocess.selectbox(key="preprocess_editor.3.method").set_value("histogram").run()
    assert not preprocess.exception


def test_tuned_pipeline_becomes_active_only_when_asked(preprocess):
    preprocess.number_input(key="preprocess_editor.1.height").set_value(64).run()
    assert "resize: 64×64×1" in " ".join(_captions(preprocess))
    assert preprocess.session_state["active_preprocess"]["steps"][1]["params"]["height"] == 128
    assert any("Not yet active" in c.value and "height 128 → 64" in c.value for c in preprocess.caption)
    preprocess.button(key="preprocess_editor.use").click().run()
    assert preprocess.session_state["active_preprocess"]["steps"][1]["params"]["height"] == 64


def test_loading_a_pipeline_json_and_a_bad_one(preprocess):
    good = make_pipeline(("resize", {"height": 32}), ("denoise", {"method": "median"})).to_json()
    preprocess.file_uploader(key="preprocess_editor.load").set_value(
        ("p.json", good.encode(), "application/json")
    ).run()
    assert [c.split(":")[0] for c in _captions(preprocess)[:3]] == ["input", "resize", "denoise"]
    bad = json.dumps({"steps": [{"step": "resize", "params": {"height": 1}}]}).encode()
    preprocess.file_uploader(key="preprocess_editor.load").set_value(("bad.json", bad, "application/json")).run()
    assert not preprocess.exception
    assert "height=1 is out of range" in preprocess.error[0].value
    assert [c.split(":")[0] for c in _captions(preprocess)[:3]] == ["input", "resize", "denoise"]


def test_uploaded_dicom_is_preprocessed_with_its_own_window(preprocess):
    preprocess.radio(key="pp_pick.source").set_value("Upload a file").run()
    preprocess.file_uploader(key="pp_pick.file").set_value(("mr.dcm", dicom_file("MR_small.dcm").read_bytes(), "x"))
    preprocess.run()
    preprocess.selectbox(key="preprocess_editor.2.preset").set_value("file").run()
    assert not preprocess.exception and not preprocess.error
    assert _captions(preprocess)[0].startswith("input: 64×64×1")


@pytest.fixture
def augment() -> AppTest:
    return _page("augment.py")


def test_augmentation_grid_of_variants_next_to_the_original(augment):
    captions = _captions(augment)
    assert captions[0] == "original" and captions[1:17] == [f"#{k}" for k in range(1, 17)]
    assert any("16 variants in" in c.value for c in augment.caption)


def test_reroll_changes_the_seed_and_the_variants(augment):
    before = [e.proto.imgs[0].url for e in augment.get("image")]
    augment.button(key="aug_reroll").click().run()
    assert augment.number_input(key="aug_seed").value == 1
    after = [e.proto.imgs[0].url for e in augment.get("image")]
    assert before[0] == after[0] and before[1:] != after[1:]


def test_augmentation_spec_edit_export_and_use_for_training(augment):
    augment.selectbox(key="augment_editor.add_choice").set_value("elastic")
    augment.button(key="augment_editor.add").click().run()
    spec = json.loads(augment.code[0].value)
    assert [s["step"] for s in spec["steps"]][-1] == "elastic"
    assert augment.session_state["active_augment"]["steps"][-1]["step"] != "elastic"
    augment.button(key="augment_editor.use").click().run()
    assert augment.session_state["active_augment"]["steps"][-1]["step"] == "elastic"
    augment.button(key="aug_default_fundus").click().run()
    assert [s["step"] for s in json.loads(augment.code[0].value)["steps"]][:2] == ["hflip", "vflip"]


def test_several_images_at_once(augment):
    first = augment.multiselect(key="aug_images").value
    options = augment.multiselect(key="aug_images").options
    augment.multiselect(key="aug_images").set_value([*first, *[o for o in options[:4] if o not in first]][:3]).run()
    assert not augment.exception
    assert _captions(augment).count("original") == 3
