"""The whole pipeline in a real browser, as a new user walks it; a second browser session sees none of it.

Upload a DICOM and a data set ZIP, change the preprocessing, build an augmentation, train a few epochs
with the live curve, stop, evaluate (matrix, ROC, heat maps), diagnose an uploaded real film (heat map and
lung outlines). A screenshot of every page; any Streamlit exception box or browser console error fails it.
"""

from __future__ import annotations

import pytest

from medlib.datasets.phantom import make_phantom
from medlib.datasets.phantom_export import write_png_zip
from tests.conftest import ROOT, SCREENSHOTS, dicom_file
from tests.helpers import EXCEPTION, images_loaded, open_app, settle

JOURNEY_TRAINED = """() => {
    const text = document.body.innerText, epoch = text.match(/epoch (\\d+)\\/\\d+ · batch/);
    const failed = text.indexOf("Training failed");
    if (failed >= 0) throw new Error(text.slice(failed, failed + 400));
    return (epoch !== null && Number(epoch[1]) >= 3) || text.includes("Saved as");
}"""

pytestmark = pytest.mark.browser


def _no_exception(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"journey-{name}.png"), full_page=True)


def _choose(page, label: str, option: str) -> None:
    page.locator("[data-testid='stSelectbox']").filter(has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()
    settle(page)


def test_the_whole_journey_and_a_second_session(browser, app_url, browser_store, tmp_path):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    archive = write_png_zip(make_phantom(90, size=64, seed=21), tmp_path / "journey-films.zip")
    page, errors = open_app(browser, app_url)

    # 1. Upload: a real CT DICOM, then a data set ZIP that becomes active.
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(dicom_file("CT_small.dcm")))
    page.get_by_text("DICOM · CT").first.wait_for(timeout=60_000)
    settle(page)
    _shot(page, "1-upload-dicom")
    page.get_by_role("tab", name="Data set").click()
    page.get_by_text("Upload a data set").click()
    settle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").last.set_input_files(str(archive))
    page.locator("[data-testid='stSidebar']").get_by_text("journey-films").first.wait_for(timeout=60_000)
    settle(page)
    _no_exception(page)
    _shot(page, "2-upload-dataset")

    # 2. Preprocessing: add CLAHE and make it the active pipeline.
    page.get_by_role("link", name="Preprocessing").click()
    page.get_by_text("Model input at its real size").wait_for(timeout=60_000)
    settle(page)
    _choose(page, "Add a step", "Histogram equalisation / CLAHE")
    page.get_by_role("button", name="Add").first.click()
    settle(page)
    page.get_by_text("Not yet active. Changes:").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Use for training and inference").click()
    page.locator("[data-testid='stSidebar']").get_by_text("equalize").first.wait_for(timeout=30_000)
    settle(page)
    _no_exception(page)
    _shot(page, "3-preprocessing")

    # 3. Augmentation: add a horizontal flip and use it for training.
    page.get_by_role("link", name="Augmentation").click()
    page.get_by_text("16 variants in").wait_for(timeout=60_000)
    settle(page)
    _choose(page, "Add a step", "Horizontal flip")
    page.get_by_role("button", name="Add").first.click()
    settle(page)
    page.get_by_text("Not yet active. Changes:").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Use for training").click()
    page.locator("[data-testid='stSidebar']").get_by_text("5 augmentation transform(s)").first.wait_for(timeout=30_000)
    settle(page)
    _no_exception(page)
    _shot(page, "4-augmentation")

    # 4. Training: a few epochs with the live curve, then stop; the model is stored and active.
    page.get_by_role("link", name="Training").click()
    page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    settle(page)
    assert "equalize" in page.get_by_text("Preprocessing:").first.inner_text()
    page.get_by_label("Model name").fill("journey-run")
    page.get_by_label("Model name").press("Enter")
    settle(page)
    limit = page.get_by_role("spinbutton", name="Time limit (minutes, 0 = none)")
    limit.fill("0")  # epochs from the data: one model, not folds
    limit.press("Enter")
    settle(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("validation metrics").filter(visible=True).first.wait_for(timeout=180_000)
    # epochs of a small set can pass faster than the page redraws (epoch 2, then 11): any epoch from 3 on counts,
    # and so does a run that ended on its own first (the page says why, and it is saved)
    page.wait_for_function(JOURNEY_TRAINED, timeout=180_000)
    _shot(page, "5-training")
    stop = page.get_by_role("button", name="Stop")
    if stop.count():
        stop.click()
    page.get_by_text("Saved as").wait_for(timeout=120_000)
    page.locator("[data-testid='stSidebar']").get_by_text("journey-run").first.wait_for(timeout=90_000)  # now active
    settle(page)
    assert not (browser_store / "journey-run").exists()  # in the session's private workspace
    _no_exception(page)

    # 5. Evaluation of the new model on the uploaded set: matrix, ROC and heat maps.
    page.get_by_role("link", name="Evaluation").click()
    page.get_by_text("confusion matrix (counts)").wait_for(timeout=120_000)
    settle(page)
    assert "journey-run" in page.locator("[data-testid='stSidebar']").inner_text()  # the active model, preselected
    page.get_by_text("ROC (one vs rest)").first.wait_for(timeout=30_000)
    images_loaded(page)
    _no_exception(page)
    _shot(page, "6-evaluation")

    # 6. Diagnose an uploaded real film with the default real-film models: class, heat map, lung outlines.
    page.get_by_role("link", name="Diagnose").click()
    page.get_by_text("Research tool, not a medical device.").first.wait_for(timeout=60_000)
    page.get_by_text("Upload files").click()
    page.get_by_text("Upload an image to diagnose it.").wait_for(timeout=30_000)
    settle(page)
    real = ROOT / "samples" / "IM-0141-0001.jpeg"
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(real))
    page.get_by_text("IM-0141-0001.jpeg · frame 1/1").first.wait_for(timeout=120_000)
    settle(page)
    images_loaded(page)
    body = page.inner_text("body")
    assert "Grad-CAM, sharpened: where the evidence" in body and "outlined by cxr-anatomy" in body
    # a child's film, outside the anatomy model's population: a ratio, or why none is given
    assert "Cardiothoracic ratio" in body or "No cardiothoracic ratio: it would rest on an unreliable outline" in body
    _no_exception(page)
    _shot(page, "7-diagnose")
    assert not errors, errors

    # A second browser session at the same time: its own data set, no job, no active model of the first.
    other, other_errors = open_app(browser, app_url)
    sidebar = other.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Synthetic chest films").first.wait_for(timeout=60_000)
    assert "journey-films" not in sidebar.inner_text() and "journey-run" not in sidebar.inner_text()
    other.get_by_role("link", name="Training").click()
    other.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    settle(other)
    assert "journey-run on" not in other.inner_text("body")
    other.get_by_role("tab", name="Model store").click()  # the shared models only: not the first session's model
    other.get_by_text("Your models (trained or uploaded here) are private").first.wait_for(timeout=30_000)
    settle(other)
    listed = other.locator("td[role='gridcell']").all_text_contents()  # the table's cells (drawn on a canvas)
    assert "cxr-pneumonia" in listed and "journey-run" not in listed
    assert "journey-films" in page.locator("[data-testid='stSidebar']").inner_text()  # the first keeps its own
    assert not other_errors, other_errors
    other.close()
    page.close()
