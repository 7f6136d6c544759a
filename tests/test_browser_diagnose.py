"""The clinician's view in a real browser: a sample at once, then an uploaded DICOM with class, overlays and lesions."""

from __future__ import annotations

import pytest

from medlib.phantom import make_phantom
from medlib.phantom_export import dicom_bytes
from tests.conftest import SCREENSHOTS
from tests.test_browser_upload import EXCEPTION, _images_loaded, _open, _settle

pytestmark = pytest.mark.browser


def test_diagnose_a_sample_then_an_uploaded_dicom(browser, app_url, tmp_path):
    page, errors = _open(browser, app_url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("link", name="Diagnose").click()
    page.get_by_text("Research tool, not a medical device.").first.wait_for(timeout=60_000)
    page.get_by_text("lesions found by chest-lesions").first.wait_for(timeout=120_000)
    _settle(page)
    _images_loaded(page)
    page.get_by_text("Grad-CAM, sharpened: where the evidence").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "diagnose-sample.png"), full_page=True)

    film = tmp_path / "film.dcm"
    film.write_bytes(dicom_bytes(make_phantom(6, size=256, seed=11).images[2, ..., 0], "browser"))
    page.get_by_text("Upload a file").click()
    page.get_by_text("Upload an image to diagnose it.").wait_for(timeout=30_000)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(film))
    page.get_by_text("film.dcm · frame 1/1").first.wait_for(timeout=120_000)
    _settle(page)
    _images_loaded(page)
    body = page.inner_text("body")
    assert "consolidation ·" in body and "Lesions (" in body and "mean_probability" in body
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "diagnose-upload.png"), full_page=True)
    assert not errors, errors
    page.close()
