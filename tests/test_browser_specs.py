"""The Preprocessing and Augmentation pages in a real browser, on the built-in set and an uploaded DICOM."""

from __future__ import annotations

import pytest

from tests.conftest import SCREENSHOTS, dicom_file
from tests.helpers import EXCEPTION, open_app, settle

pytestmark = pytest.mark.browser


def test_walk_preprocessing_and_augmentation(browser, app_url):
    page, errors = open_app(browser, app_url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.get_by_role("link", name="Preprocessing").click()
    page.get_by_text("Model input at its real size").wait_for(timeout=60_000)
    page.get_by_text("input: 128×128×1").first.wait_for(timeout=60_000)
    settle(page)
    page.screenshot(path=str(SCREENSHOTS / "preprocess-builtin.png"))

    page.get_by_text("Upload a file").first.click()
    page.get_by_text("Upload an image file to preview it.").wait_for(timeout=30_000)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(dicom_file("CT_small.dcm")))
    page.get_by_text("CT_small.dcm (frame 1)").wait_for(timeout=60_000)
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "preprocess-dicom.png"))

    page.get_by_role("link", name="Augmentation").click()
    page.get_by_text("16 variants in").wait_for(timeout=60_000)
    settle(page)
    page.get_by_role("button", name="Re-roll").click()
    settle(page)
    assert page.get_by_label("Seed").input_value() == "1"
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "augment-builtin.png"))
    assert not errors, errors
    page.close()
