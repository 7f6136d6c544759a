"""The Upload page in a real browser: streamlit run, headless Chromium, a real DICOM upload."""

from __future__ import annotations

import pytest

from tests.conftest import SCREENSHOTS, dicom_file

pytestmark = pytest.mark.browser

EXCEPTION = "[data-testid='stException']"


def _record_failure(errors: list[str], response) -> None:
    # Images of a superseded rerun are dropped by Streamlit's media store; a late request for one is harmless.
    if response.status >= 400 and "/media/" not in response.url:
        errors.append(f"{response.status} {response.url}")


def _open(browser, url: str):
    """A new page on the app, collecting console errors, page errors and failed requests."""
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and not m.text.startswith("Failed to load resource") else None
        ),
    )
    page.on("response", lambda r: _record_failure(errors, r))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.get_by_role("heading", name="Upload").wait_for(timeout=60_000)
    return page, errors


def _images_loaded(page) -> None:
    """Wait until every image on the page has loaded (they come from /media after the script run)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=30_000,
    )


def _settle(page) -> None:
    page.wait_for_timeout(500)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=60_000)
    # Elements of the run before stay on the page, faded, until the new run replaces them.
    page.wait_for_function("!document.querySelector(\"[data-stale='true']\")", timeout=60_000)


def test_upload_page_opens_on_the_synthetic_sample(browser, app_url):
    page, errors = _open(browser, app_url)
    page.get_by_text("Upload your own file above").first.wait_for(timeout=60_000)
    page.locator("[data-testid='stSidebar']").get_by_text("Synthetic chest films").first.wait_for(timeout=60_000)
    _settle(page)
    assert page.locator(EXCEPTION).count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "upload-start.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_uploading_a_dicom_shows_image_and_metadata(browser, app_url):
    page, errors = _open(browser, app_url)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(dicom_file("CT_small.dcm")))
    page.get_by_text("CT_small.dcm").first.wait_for(timeout=60_000)
    _settle(page)
    page.get_by_text("DICOM · CT").first.wait_for(timeout=30_000)
    page.get_by_text("RescaleIntercept").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stImage'] img").count() >= 1
    assert page.locator(EXCEPTION).count() == 0
    body = page.inner_text("body")
    assert "CompressedSamples" not in body and "PatientName" not in body
    page.screenshot(path=str(SCREENSHOTS / "upload-dicom.png"), full_page=True)
    assert not errors, errors
    page.close()
