"""The clinician's view in a real browser: the real sample film at once, then an uploaded real film diagnosed by the
real-film models, then a non-chest image refused by the out-of-distribution gate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT, SCREENSHOTS, SHARED_DATA
from tests.helpers import EXCEPTION, images_loaded, open_app, settle

pytestmark = pytest.mark.browser


def _real_film():
    """A real film no shipped model trained on: one of the test split's from the shared set, else a sample."""
    shared = SHARED_DATA / "chest_xray_224" / "images" / "PNEUMONIA" / "person1019_bacteria_2950.jpeg"
    return shared if shared.is_file() else ROOT / "samples" / "person1001_bacteria_2932.jpeg"


def test_diagnose_a_real_film_then_refuse_a_photograph(browser, app_url, tmp_path):
    page, errors = open_app(browser, app_url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("link", name="Diagnose").click()
    page.get_by_text("Research tool, not a medical device.").first.wait_for(timeout=60_000)
    page.get_by_text("right lung, left lung, heart outlined by cxr-anatomy").first.wait_for(timeout=120_000)
    settle(page)
    images_loaded(page)
    assert "Kermany" in page.inner_text("body")
    # Streamlit's animated running icon is hidden on every page (a waiting browser repaints it from a timer)
    hidden = page.evaluate("""() => { const probe = document.createElement('div');
        probe.dataset.testid = 'stStatusWidgetRunningIcon'; document.body.appendChild(probe);
        const display = getComputedStyle(probe).display; probe.remove(); return display; }""")
    assert hidden == "none"
    page.screenshot(path=str(SCREENSHOTS / "diagnose-sample.png"), full_page=True)

    page.get_by_text("Upload files").click()
    page.get_by_text("Upload an image to diagnose it.").wait_for(timeout=30_000)
    settle(page)
    film = _real_film()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(film))
    page.get_by_text(f"{film.name} · frame 1/1").first.wait_for(timeout=120_000)
    settle(page)
    images_loaded(page)
    body = page.inner_text("body")
    assert "PNEUMONIA" in body and "threshold, chosen on validation" in body
    # a child's film, outside the anatomy model's population: a ratio, or why none is given
    assert "Cardiothoracic ratio" in body or "No cardiothoracic ratio: it would rest on an unreliable outline" in body
    assert "learned from children aged 1 to 5" in body and "learned from adults of one Japanese database" in body
    assert "outside what the models were trained on" not in body
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "diagnose-real-film.png"), full_page=True)
    page.get_by_role("button", name="Picture settings").click()  # the settings live in a popover
    page.locator("[data-testid='stSelectbox']").filter(has_text="Heat map").first.click()
    page.get_by_role("option", name="Grad-CAM++").first.click()
    page.get_by_text("Grad-CAM++: where the evidence for PNEUMONIA lies").first.wait_for(timeout=120_000)
    settle(page)
    page.screenshot(path=str(SCREENSHOTS / "diagnose-settings.png"), full_page=True)
    page.keyboard.press("Escape")

    photo = tmp_path / "holiday.png"
    rng = np.random.default_rng(0)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3)).astype(np.uint8), (0, 0), 6)
    picture[..., 2] = np.clip(picture[..., 2].astype(int) + 120, 0, 255)  # a reddish photograph
    cv2.imwrite(str(photo), picture)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(photo))
    page.get_by_text("holiday.png · frame 1/1").first.wait_for(timeout=120_000)
    settle(page)
    page.get_by_text("outside what the models were trained on").first.wait_for(timeout=30_000)
    body = page.inner_text("body")
    assert "it is a colour picture" in body and "Cardiothoracic ratio" not in body
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "diagnose-refused.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_a_jsrt_film_shows_its_nodule_candidates_and_the_three_outlines(browser, app_url):
    page, errors = open_app(browser, app_url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("link", name="Diagnose").click()
    page.get_by_text("right lung, left lung, heart outlined by cxr-anatomy").first.wait_for(timeout=120_000)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Sample").first.click()
    page.get_by_role("option", name="lung nodule (adult)").first.click()
    page.get_by_text("JPCLN012.png (real adult chest film").first.wait_for(timeout=120_000)
    settle(page)
    images_loaded(page)
    body = page.inner_text("body")
    assert "Anatomy" in body and "Cardiothoracic ratio" in body and "right lung" in body and "heart" in body
    assert "at or above" in body and "probability that the film holds a nodule" in body
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "diagnose-jsrt-nodule.png"), full_page=True)
    slider = page.locator("[data-testid='stSlider']").filter(has_text="Candidate threshold").first
    slider.locator("input[type='range']").focus()
    for _ in range(100):  # to 0: every candidate is drawn, numbered, with its score
        page.keyboard.press("ArrowLeft")
    page.get_by_text("at or above 0.00").first.wait_for(timeout=120_000)
    settle(page)
    assert "candidate(s) at or above 0.00" in page.inner_text("body")
    page.screenshot(path=str(SCREENSHOTS / "diagnose-jsrt-all-candidates.png"), full_page=True)
    page.get_by_role("button", name="Prepare the files").click()
    page.get_by_role("button", name="Report (HTML)").wait_for(timeout=120_000)
    for name in ("DICOM SEG", "DICOM SR", "Label map (PNG)", "All (ZIP)"):
        assert page.get_by_role("button", name=name).count() == 1
    with page.expect_download() as download:
        page.get_by_role("button", name="Report (HTML)").click()
    assert download.value.suggested_filename == "JPCLN012-report.html"
    report = download.value.path().read_text(encoding="utf-8")
    assert not errors, errors
    page.close()
    _the_report_opens_offline(browser, report)


def _the_report_opens_offline(browser, report: str) -> None:
    """The downloaded report, opened with every network request refused: whole, and asking for nothing."""
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    asked = []
    page.route("**/*", lambda route: (asked.append(route.request.url), route.abort()))
    page.set_content(report)
    page.wait_for_load_state("load")
    assert page.evaluate("() => [...document.images].every(image => image.complete && image.naturalWidth > 0)")
    body = page.inner_text("body")
    assert "not a medical device" in body and "Findings" in body and "Cardiothoracic ratio" in body
    assert "candidates scoring at least 0.00" in body.lower()  # the threshold the user chose
    assert not [url for url in asked if not url.startswith("data:")], asked
    page.screenshot(path=str(SCREENSHOTS / "diagnose-report.png"), full_page=True)
    page.close()
