"""The Nodule studio in a real browser: a large simulated nodule on the normal adult sample film, the detector's
answer beside the true place (a screenshot to look at)."""

from __future__ import annotations

import pytest

from tests.conftest import SCREENSHOTS
from tests.helpers import EXCEPTION, images_loaded, open_app, settle

pytestmark = pytest.mark.browser


def test_a_simulated_nodule_on_a_sample_film_and_the_detectors_answer(browser, app_url):
    page, errors = open_app(browser, app_url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("link", name="Nodule studio").click()
    page.get_by_text("The nodules here are simulated.").first.wait_for(timeout=60_000)
    page.get_by_text("green ring").first.wait_for(timeout=180_000)
    settle(page)
    for label, steps in (("Diameter (mm)", 15), ("Contrast", 10)):  # 15 → 30 mm, 0.10 → 0.20
        slider = page.locator("[data-testid='stSlider']").filter(has_text=label).first
        slider.locator("input[type='range']").focus()
        for _ in range(steps):
            page.keyboard.press("ArrowRight")
        settle(page)
    page.get_by_text("a 30 mm nodule at").first.wait_for(timeout=180_000)
    settle(page)
    images_loaded(page)
    body = page.inner_text("body")
    assert ("Found: candidate" in body or "Missed: no candidate" in body) and "JPCNN004.png" in body
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "nodule-studio.png"), full_page=True)
    assert not errors, errors
    page.close()
