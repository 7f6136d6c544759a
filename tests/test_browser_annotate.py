"""The Annotate page in a real browser, on a real film (the JSRT sample in samples/): the models fill it in, the user
circles a nodule and moves the heart's outline on the canvas, sets the class and saves; the downloaded set reads
back with ``medlib info`` at the film's own size (a screenshot to look at)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import cv2
import pytest

from tests.conftest import ROOT, SCREENSHOTS
from tests.helpers import EXCEPTION, open_app, settle

pytestmark = pytest.mark.browser

FILM = ROOT / "samples" / "JPCLN012.png"  # 224×224 pixels


def test_a_circle_and_an_outline_edited_on_a_real_film_are_saved_and_read_back(browser, app_url, tmp_path):
    page, errors = open_app(browser, app_url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("link", name="Annotate").click()
    page.get_by_role("heading", name="Annotate").wait_for(timeout=60_000)
    page.get_by_text("Upload files").click()
    page.locator("input[type='file']").set_input_files(str(FILM))
    page.get_by_text("JPCLN012.png · 224×224 pixels").first.wait_for(timeout=180_000)
    settle(page)
    assert "3 outline(s)" in page.inner_text("body")  # the anatomy model's right lung, left lung and heart

    canvas = page.locator("canvas").last  # Fabric's upper canvas takes the pointer
    box = canvas.bounding_box()
    scale = box["width"] / 224

    def at(x: float, y: float) -> tuple[float, float]:  # a film pixel on the screen
        return box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale

    def drag(x: float, y: float, right: float) -> None:  # a press at (x, y), moved ``right`` film pixels, let go
        page.mouse.move(*at(x, y))
        page.mouse.down()
        page.mouse.move(*at(x + right / 2, y), steps=5)
        page.mouse.move(*at(x + right, y), steps=5)
        page.mouse.up()

    drag(60, 100, 12)  # a circle dragged out from its left edge to a 12-pixel diameter, in the right lung
    page.get_by_text("1 circle(s)").first.wait_for(timeout=60_000)
    settle(page)
    page.mouse.move(*at(100, 100))
    page.locator("[title='Edit']").click()
    drag(100, 165, 10)  # the heart's outline (its middle near (100, 165)) moved 10 pixels right with the edit tool
    page.get_by_text("your edits, not yet saved").first.wait_for(timeout=60_000)
    settle(page)

    # the pneumonia model learned from children: it proposes no class for this adult's film
    page.get_by_role("combobox", name="Class", exact=True).click()
    page.get_by_role("option", name="NORMAL").click()
    settle(page)
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved JPCLN012.png to uploads-labels: images/JPCLN012.png (224×224)").wait_for(timeout=60_000)
    settle(page)
    body = page.inner_text("body")
    assert "You corrected 1 of 3 outlines" in body and "added 1" in body and "1 of 1 labelled" in body
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "annotate.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the set (ZIP)").click()
    archive = tmp_path / "set.zip"
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(tmp_path)
    folder = tmp_path / "uploads-labels"
    info = subprocess.run([sys.executable, "-m", "medlib", "info", str(folder)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert summary["images"] == 1 and summary["structures"] == ["right lung", "left lung", "heart"]
    assert summary["findings"]["count"] == 1
    label_map = cv2.imread(str(folder / "masks" / "JPCLN012.png"), cv2.IMREAD_UNCHANGED)
    assert label_map.shape == (224, 224)  # the film's own size
    work = json.loads((folder / "work.json").read_text())
    record = work["images"]["JPCLN012.png"]
    (circle,) = record["labels"]["findings"]
    assert circle["centre"] == pytest.approx([66.0, 100.0], abs=1.5) and circle["radius_px"] == pytest.approx(6, abs=1)
    heart = record["changes"]["outlines"]["heart"]
    assert heart["corrected"] and 0.7 < heart["dice"] < 0.97
    assert not record["changes"]["outlines"]["right lung"]["corrected"]
    assert not errors, errors
    page.close()
