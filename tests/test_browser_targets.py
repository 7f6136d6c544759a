"""The Upload page in a real browser with real annotated data: JSRT films (a nodule circle, three outlined
structures and their legend) and hippocampus MRI volumes (three planes). Skips without ``../shared``."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import SCREENSHOTS
from tests.helpers import EXCEPTION, open_app, settle

pytestmark = pytest.mark.browser


def _jsrt_zip(source: Path, out: Path, films: int = 12) -> Path:
    """The first ``films`` films of JSRT (nodules and normals) with their masks, manifest and labels.json."""
    with open(source / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = [r for r in rows if r["label"] == "nodule"][: films // 2] + [r for r in rows if r["label"] == "normal"][
        : films // 2]
    with zipfile.ZipFile(out, "w") as archive:
        for row in rows:
            for column in ("path", "mask"):
                archive.write(source / row[column], f"jsrt/{row[column]}")
        archive.write(source / "labels.json", "jsrt/labels.json")
        lines = ["path,mask,label,x,y,radius_px"] + [
            ",".join(row[c] for c in ("path", "mask", "label", "x", "y", "radius_px")) for row in rows]
        archive.writestr("jsrt/manifest.csv", "\n".join(lines) + "\n")
    return out


def _hippocampus_zip(source: Path, out: Path, volumes: int = 4) -> Path:
    folder = out.with_suffix("")
    for kind in ("imagesTr", "labelsTr"):
        (folder / kind).mkdir(parents=True)
        for path in sorted((source / kind).glob("*.nii.gz"))[:volumes]:
            shutil.copy(path, folder / kind / path.name)
    (folder / "labels.json").write_text('{"labels": {"0": "background", "1": "anterior", "2": "posterior"}}')
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, Path("hippocampus") / path.relative_to(folder))
    return out


def _upload_set(page, archive: Path) -> None:
    page.get_by_role("tab", name="Data set").click()
    page.get_by_text("Upload a data set").click()
    settle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").last.set_input_files(str(archive))


def test_jsrt_films_show_their_nodules_and_structures(browser, app_url, shared_data, tmp_path):
    page, errors = open_app(browser, app_url)
    _upload_set(page, _jsrt_zip(shared_data / "jsrt", tmp_path / "jsrt-sample.zip"))
    page.get_by_text("located finding").first.wait_for(timeout=60_000)
    settle(page)
    legend = page.get_by_text("Outlined:").first.inner_text()
    assert "right lung" in legend and "left lung" in legend and "heart" in legend
    assert page.locator(EXCEPTION).count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "upload-jsrt.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_hippocampus_volumes_show_in_three_planes(browser, app_url, shared_data, tmp_path):
    page, errors = open_app(browser, app_url)
    _upload_set(page, _hippocampus_zip(shared_data / "hippocampus", tmp_path / "hippocampus-sample.zip"))
    page.get_by_text("Sagittal slice").first.wait_for(timeout=60_000)
    settle(page)
    assert page.get_by_text("3-D task").count() >= 1
    assert page.locator(".st-key-volume_sagittal_view .js-plotly-plot").count() == 1  # three linked planes
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "upload-hippocampus.png"), full_page=True)
    page.get_by_role("link", name="Preprocessing").click()  # the 3-D set loaded is previewed there
    page.get_by_text("(what the network takes)").first.wait_for(timeout=60_000)
    settle(page)
    assert page.locator("[class*='st-key-pp_volume_'] .js-plotly-plot").count() == 6  # before and after, 3 planes
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "preprocess-hippocampus.png"), full_page=True)
    page.get_by_role("link", name="Augmentation").click()
    page.get_by_text("The patch training draws").first.wait_for(timeout=60_000)
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "augment-hippocampus.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_a_hippocampus_volume_is_diagnosed_in_three_planes(browser, app_url, shared_data):
    volume = sorted((shared_data / "hippocampus" / "imagesTr").glob("*.nii.gz"))[-1]
    page, errors = open_app(browser, app_url)
    page.get_by_role("link", name="Diagnose").click()
    page.get_by_text("Research tool, not a medical device.").first.wait_for(timeout=60_000)
    page.get_by_text("Upload files").click()
    settle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(volume))
    page.get_by_text("outlined by mri-hippocampus").first.wait_for(timeout=120_000)
    settle(page)
    body = page.inner_text("body")
    assert "Anterior" in body and "Posterior" in body and " mL" in body
    assert page.locator(".st-key-dx_volume_axial_view .js-plotly-plot").count() == 1  # three linked planes
    page.get_by_role("button", name="Prepare the files").click()
    page.get_by_role("button", name="Label volume (NIfTI)").wait_for(timeout=60_000)
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "diagnose-hippocampus.png"), full_page=True)
    assert not errors, errors
    page.close()
