"""The first screen and the viewer in a real browser: the start page takes a clinician to Diagnose; the film zooms,
its window changes, each overlay toggles from the legend; the candidate slider, pressed fast, agrees with the
heading, the table and the picture; a click in one plane of a volume moves the other two."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SCREENSHOTS
from tests.helpers import EXCEPTION, open_app, settle
from tests.test_app_targets import zip_folder
from tests.test_browser_targets import _upload_set
from tests.test_volumes import _task

pytestmark = pytest.mark.browser

FIGURE = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def _viewer(page, script: str):
    """Evaluate ``script`` (a function of the plot element) on the first plotly figure of the page."""
    return page.evaluate(f"() => {{ const plot = document.querySelector(\"{FIGURE}\"); return ({script})(plot); }}")


def test_the_start_page_takes_a_clinician_to_diagnose(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    page.get_by_role("heading", name="MedLab dashboard").wait_for(timeout=60_000)
    settle(page)
    assert "not a medical device" in page.inner_text("body")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "start.png"), full_page=True)
    page.locator("[data-testid='stMain']").get_by_role("link", name="Diagnose").click()
    page.get_by_role("heading", name="Diagnose").wait_for(timeout=60_000)
    assert page.locator(EXCEPTION).count() == 0
    page.close()


def test_the_film_zooms_windows_and_toggles_its_layers_and_the_slider_agrees_after_fast_keys(browser, app_url):
    page, errors = open_app(browser, app_url)
    page.get_by_role("link", name="Diagnose").click()
    page.get_by_text("right lung, left lung, heart outlined by cxr-anatomy").first.wait_for(timeout=120_000)
    settle(page)
    page.locator(FIGURE).first.wait_for(timeout=60_000)
    names = _viewer(page, "p => p.data.map(t => t.name)")
    assert {"right lung", "left lung"} <= set(names) and any("heat" in n.lower() for n in names if n)

    # zoom: the wheel over the film narrows the x range
    before = _viewer(page, "p => p._fullLayout.xaxis.range.slice()")
    box = page.locator(FIGURE).first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(3):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(150)
    after = _viewer(page, "p => p._fullLayout.xaxis.range.slice()")
    assert after[1] - after[0] < 0.9 * (before[1] - before[0])

    # a layer toggled from the legend: the left lung's outline hidden, the rest kept
    entry = page.locator(FIGURE).first.locator(".legend .traces", has_text="left lung").bounding_box()
    page.mouse.click(entry["x"] + entry["width"] / 2, entry["y"] + entry["height"] / 2)
    page.wait_for_timeout(1000)  # plotly waits out a double click first
    visible = _viewer(page, "p => Object.fromEntries(p._fullData.map(t => [t.name, t.visible]))")
    assert visible["left lung"] == "legendonly" and visible["right lung"] is True
    page.screenshot(path=str(SCREENSHOTS / "diagnose-viewer.png"), full_page=True)

    # window/level: another preset redraws the film
    source = _viewer(page, "p => p.data[0].source.length + ':' + p.data[0].source.slice(-400)")
    page.get_by_role("combobox", name="Window preset").click()
    page.get_by_role("option", name="Custom").click()
    settle(page)
    page.get_by_role("slider", name="Width").focus()
    page.keyboard.press("Home")  # the narrowest window: a stark film
    settle(page)
    assert _viewer(page, "p => p.data[0].source.length + ':' + p.data[0].source.slice(-400)") != source

    # fast key presses on the candidate slider: what it shows is what the heading and the picture use
    page.get_by_role("combobox", name="Sample").click()
    page.get_by_role("option", name="lung nodule (adult)").click()
    page.get_by_text("at or above").first.wait_for(timeout=120_000)
    settle(page)
    thumb = page.get_by_role("slider", name="Candidate threshold")
    thumb.focus()
    for _ in range(9):
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(40)
    settle(page)
    page.wait_for_timeout(1500)
    settle(page)
    shown = float(thumb.input_value())
    heading = re.search(r"at or above (\d\.\d\d)", page.inner_text("[data-testid='stMain']"))
    assert heading and float(heading.group(1)) == pytest.approx(shown)
    legend = [n for n in _viewer(page, "p => p.data.map(t => t.name)") if n and "candidates" in n]
    assert not legend or legend[0].endswith(f"{shown:.2f}")
    assert page.locator(EXCEPTION).count() == 0
    assert not errors, errors
    page.close()


def test_a_click_in_one_plane_moves_the_other_two(browser, app_url, tmp_path):
    page, errors = open_app(browser, app_url)
    (tmp_path / "Task99.zip").write_bytes(zip_folder(_task(tmp_path / "Task99", n=3)))
    _upload_set(page, tmp_path / "Task99.zip")
    page.get_by_text("Sagittal slice").first.wait_for(timeout=60_000)
    settle(page)
    sliders = {name: page.get_by_role("slider", name=f"{name} slice") for name in ("Axial", "Coronal", "Sagittal")}
    start = {name: slider.input_value() for name, slider in sliders.items()}
    axial = page.locator(".st-key-volume_axial_view .js-plotly-plot")  # a click sets the coronal and sagittal slices
    box = axial.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.25)
    settle(page)
    page.wait_for_timeout(500)
    moved = {name: slider.input_value() for name, slider in sliders.items()}
    assert moved["Axial"] == start["Axial"]
    assert moved["Coronal"] != start["Coronal"] and moved["Sagittal"] != start["Sagittal"]
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "planes-linked.png"), full_page=True)
    assert not errors, errors
    page.close()
