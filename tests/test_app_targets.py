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
    assert "axial 2/8" in _image_captions(upload_page)
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
    pictures = [i.proto.imgs[0].url for i in app.get("image")]
    assert len(pictures) == 6  # three planes of the prepared volume, three of the patch
    draws = {}
    for seed in (1, 2, 3):
        app.number_input(key="au_volume_seed").set_value(seed).run()
        assert not app.exception
        now = [i.proto.imgs[0].url for i in app.get("image")]
        assert now[:3] == pictures[:3]  # the prepared volume stays
        draws[seed] = tuple(now[3:])
    assert len(set(draws.values())) > 1  # another seed, another draw
