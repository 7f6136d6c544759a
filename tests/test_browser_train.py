"""Training in a real browser: start on the synthetic set, watch the curve grow, stop, find the model in the store."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SCREENSHOTS
from tests.helpers import EXCEPTION, images_loaded, open_app, settle

pytestmark = pytest.mark.browser


def _epochs_done(page) -> int:
    found = re.findall(r"epoch (\d+)/\d+ · batch", page.inner_text("body"))
    return int(found[-1]) - 1 if found else 0


def test_train_watch_stop_and_store(browser, app_url, browser_store):
    page, errors = open_app(browser, app_url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("link", name="Training").click()
    page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    settle(page)
    page.get_by_label("Model name").fill("browser-run")
    page.get_by_label("Model name").press("Enter")
    settle(page)
    limit = page.get_by_role("spinbutton", name="Time limit (minutes, 0 = none)")
    limit.fill("0")  # epochs from the data: one model, not folds
    limit.press("Enter")
    settle(page)
    page.get_by_role("button", name="Start training").click()
    # the curves, after the first epoch (plotly may draw a hidden copy of a title while it lays out)
    page.get_by_text("validation metrics").filter(visible=True).first.wait_for(timeout=180_000)
    page.wait_for_function("() => /epoch [3-9]\\/\\d+ · batch/.test(document.body.innerText)", timeout=180_000)
    assert _epochs_done(page) >= 2
    page.screenshot(path=str(SCREENSHOTS / "train-running.png"))
    assert "job=" in page.url and "ws=" in page.url
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Saved as").wait_for(timeout=120_000)
    settle(page)
    page.get_by_text("stopped").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "train-stopped.png"))
    page.get_by_role("tab", name="Model store").click()
    settle(page)
    assert not (browser_store / "browser-run").exists()  # in this session's private workspace, not the shared store
    page.get_by_text("Your models (trained or uploaded here) are private").first.wait_for(timeout=30_000)
    page.locator("[data-testid='stSidebar']").get_by_text("browser-run").first.wait_for(timeout=90_000)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "train-store.png"))

    # The new model, evaluated: metrics, matrix, ROC, and the errors with their heat maps.
    page.get_by_role("link", name="Evaluation").click()
    page.get_by_text("confusion matrix (counts)").wait_for(timeout=120_000)
    page.get_by_text("Misclassified").first.wait_for(timeout=120_000)
    settle(page)
    page.get_by_text("ROC (one vs rest)").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stImage']").count() >= 1  # the first misclassified, with its Grad-CAM
    images_loaded(page)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "evaluation.png"), full_page=True)
    assert not errors, errors
    page.close()
