"""AppTest of the Upload page with named structures, located findings and volumes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from medlib.datasets import load_dataset
from tests.conftest import ROOT
from tests.test_app import _image_captions, upload_page  # noqa: F401  (the fixture)
from tests.test_targets import NAMES, _write_set
from tests.test_volumes import _task


def zip_folder(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, Path(root.name) / path.relative_to(root))
    return buffer.getvalue()


def _upload(page, name: str, data: bytes) -> None:
    page.radio(key="dataset_source").set_value("Upload a data set").run()
    page.file_uploader(key="dataset_file").set_value((name, data, "application/zip"))
    page.run()
    assert not page.exception and not page.error


def test_a_set_with_named_structures_and_findings_shows_their_legend(upload_page, tmp_path):  # noqa: F811
    _upload(upload_page, "films.zip", zip_folder(_write_set(tmp_path / "films", labels=NAMES)))
    dataset = upload_page.session_state["active_dataset"]
    assert dataset.structures == ["right lung", "heart"] and dataset.findings is not None
    legend = next(m.value for m in upload_page.markdown if m.value.startswith("Outlined:"))
    assert "right lung" in legend and "heart" in legend and "located finding" in legend


def test_a_volume_set_is_shown_in_three_planes_and_the_active_set_stays(upload_page, tmp_path):  # noqa: F811
    before = upload_page.session_state["active_dataset"].name
    _upload(upload_page, "Task99.zip", zip_folder(_task(tmp_path / "Task99", n=3)))
    assert upload_page.session_state["active_dataset"].name == before
    assert [s.label for s in upload_page.slider] == ["Axial slice", "Coronal slice", "Sagittal slice"]
    upload_page.slider(key="volume_axial").set_value(2).run()
    assert not upload_page.exception
    assert any(c.value.startswith("axial 2/8") for c in upload_page.caption)
    assert any("head" in m.value and "tail" in m.value for m in upload_page.markdown)


@pytest.mark.parametrize("page", ["preprocess.py", "augment.py"])
def test_the_preview_pages_draw_findings_and_structures_moving_with_the_image(page, tmp_path):
    app = AppTest.from_file(str(ROOT / "app_pages" / page), default_timeout=60)
    app.session_state["active_dataset"] = load_dataset(_write_set(tmp_path / "films", labels=NAMES))
    app.run()
    assert not app.exception and not app.error
    legend = next(m.value for m in app.markdown if m.value.startswith("Outlined:"))
    assert "right lung" in legend and "located finding" in legend


def test_the_preprocessing_page_shows_a_volume_before_and_after_its_3d_recipe(tmp_path):
    from tests.helpers import write_task

    app = AppTest.from_file(str(ROOT / "app_pages" / "preprocess.py"), default_timeout=60)
    app.session_state["volume_set"] = load_dataset(write_task(tmp_path / "Task99_Spheres", count=6,
                                                              spacing=(1.5, 1.0, 1.0)))
    app.run()
    assert not app.exception and not app.error
    assert app.radio(key="pp_what").value.startswith("Volumes")  # the 3-D set loaded last is previewed first
    sliders = [s.key for s in app.slider]
    assert sliders == [f"pp_volume_{when}_{plane}" for when in ("before", "after")
                       for plane in ("axial", "coronal", "sagittal")]
    before, after = (m.value for m in app.markdown if m.value.startswith(("**Before**", "**After**")))
    assert "20 × 24 × 20 voxels of 1.5 × 1 × 1 mm" in before  # as read
    assert "24 × 24 × 24 voxels of 1.5 × 1 × 1 mm" in after and "MRI normalisation" in after  # padded to the patch
    app.radio(key="pp_what").set_value(app.radio(key="pp_what").options[1]).run()  # back to the 2-D images
    assert not app.exception and not [s for s in app.slider if s.key.startswith("pp_volume")]


def test_the_augmentation_page_shows_the_patch_a_seeded_draw_gives_training(tmp_path):
    from tests.helpers import write_task

    app = AppTest.from_file(str(ROOT / "app_pages" / "augment.py"), default_timeout=60)
    app.session_state["volume_set"] = load_dataset(write_task(tmp_path / "Task99_Spheres", count=6))
    app.run()
    assert not app.exception and not app.error
    assert any(m.value.startswith("**The patch training draws** in epoch 1 with seed 0") for m in app.markdown)
    pictures = [chart.proto.spec for chart in app.get("plotly_chart")]
    assert len(pictures) == 6  # three planes of the prepared volume, three of the patch
    draws = {}
    for seed in (1, 2, 3):
        app.number_input(key="au_volume_seed").set_value(seed).run()
        assert not app.exception
        now = [chart.proto.spec for chart in app.get("plotly_chart")]
        assert now[:3] == pictures[:3]  # the prepared volume stays
        draws[seed] = tuple(now[3:])
    assert len(set(draws.values())) > 1  # another seed, another draw


def test_the_augmentation_playground_blends_simulated_nodules_into_films_without_a_finding(tmp_path, monkeypatch):
    """The simulated-nodule step: off by default; on, a share of the draws of a film without a finding carry
    nodules inside its lungs, drawn as findings; a film with a finding is left as a run leaves it."""
    monkeypatch.setenv("MEDLIB_DATA", str(tmp_path / "no-data"))  # no CT nodules here: the generated one
    app = AppTest.from_file(str(ROOT / "app_pages" / "augment.py"), default_timeout=60)
    dataset = load_dataset(_write_set(tmp_path / "films", labels=NAMES))
    app.session_state["active_dataset"] = dataset
    app.run()
    assert app.toggle(key="aug_nodules").value is False
    normal = next(name for name in app.multiselect(key="aug_images").options if "normal" in name)
    app.multiselect(key="aug_images").set_value([normal])
    app.toggle(key="aug_nodules").set_value(True).run()
    app.slider(key="aug_nodule_share").set_value(1.0).run()
    assert not app.exception and not app.error
    assert app.selectbox(key="aug_nodule_source").options == ["generated (a smooth solid nodule)"]
    assert not [b for b in app.button if b.key == "aug_nodules_train"]  # training reads CT nodules only
    captions = _image_captions(app)
    assert sum("· nodules" in c for c in captions) == 16 and "inside the lungs (the set’s own outlines)" in \
        " ".join(c.value for c in app.caption)
    app.slider(key="aug_nodule_share").set_value(0.0).run()
    assert not any("· nodules" in c for c in _image_captions(app))


def test_nodules_from_ct_chosen_in_the_playground_reach_the_training_page(shared_data, monkeypatch):
    monkeypatch.setenv("MEDLIB_DATA", str(shared_data))
    monkeypatch.setenv("MEDLIB_MODELS", str(ROOT / "models"))
    films = load_dataset(shared_data / "jsrt")
    app = AppTest.from_file(str(ROOT / "app_pages" / "augment.py"), default_timeout=120)
    app.session_state["active_dataset"] = films
    app.run()
    app.toggle(key="aug_nodules").set_value(True).run()
    app.selectbox(key="aug_nodule_source").set_value("real, from CT (node21_nodules)")
    app.slider(key="aug_nodule_share").set_value(0.3).run()
    app.button(key="aug_nodules_train").click().run()
    assert not app.exception and not app.error
    chosen = app.session_state["tr_nodules"]
    assert chosen == {"folder": str(shared_data / "node21_nodules"), "share": 0.3}
    train = AppTest.from_file(str(ROOT / "app_pages" / "train.py"), default_timeout=120)
    train.session_state["active_dataset"] = films
    train.session_state["tr_nodules"] = chosen
    train.run()
    assert not train.exception
    assert any("Simulated nodules from node21_nodules in 30% of the training films" in c.value for c in train.caption)
    train.button(key="tr_nodules_drop").click().run()
    assert "tr_nodules" not in train.session_state and not any("Simulated nodules" in c.value for c in train.caption)
