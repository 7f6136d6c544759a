"""The Upload page in a real browser: streamlit run, headless Chromium, a real DICOM upload."""

from __future__ import annotations

import pytest

from tests.conftest import SCREENSHOTS, dicom_file
from tests.helpers import EXCEPTION, open_app, settle

pytestmark = pytest.mark.browser

def test_upload_page_opens_on_the_synthetic_sample(browser, app_url):
    page, errors = open_app(browser, app_url)
    page.get_by_text("Upload your own file above").first.wait_for(timeout=60_000)
    page.locator("[data-testid='stSidebar']").get_by_text("Synthetic chest films").first.wait_for(timeout=60_000)
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "upload-start.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_uploading_a_dicom_shows_image_and_metadata(browser, app_url):
    page, errors = open_app(browser, app_url)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(dicom_file("CT_small.dcm")))
    page.get_by_text("CT_small.dcm").first.wait_for(timeout=60_000)
    settle(page)
    page.get_by_text("DICOM · CT").first.wait_for(timeout=30_000)
    page.get_by_text("RescaleIntercept").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stImage'] img").count() >= 1
    assert page.locator(EXCEPTION).count() == 0
    body = page.inner_text("body")
    assert "CompressedSamples" not in body and "PatientName" not in body
    page.screenshot(path=str(SCREENSHOTS / "upload-dicom.png"), full_page=True)
    assert not errors, errors
    page.close()
