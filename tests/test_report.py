"""The downloadable evaluation report: a few hundred KB, a few screens long, its plots labelled, the truth drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medlib.scoring.classification import calibration, curves
from ui.plots import calibration_figure, confusion_heatmap, pr_figure, roc_figure
from ui.report import GalleryItem, evaluation_report, still_drawing


def _report() -> str:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.4 + rng.normal(0.3, 0.2, 400), 0, 1)
    outputs = scores[:, None]
    c = curves(labels, outputs)
    figures = [confusion_heatmap(np.array([[150, 40], [30, 180]]), ["normal", "pneumonia"], False),
               roc_figure({"AUC 0.9": (c.fpr, c.tpr, c.roc_thresholds)}, (0.2, 0.85)),
               pr_figure({"AP 0.9": (c.recall, c.precision)}), calibration_figure(calibration(labels, outputs))]
    gallery = [GalleryItem(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8), f"false positive {k}")
               for k in range(16)]  # noise: the hardest case for JPEG
    metrics = pd.DataFrame([{"metric": "AUC", "estimate": 0.91234, "95% CI low": 0.88, "95% CI high": 0.94}])
    return evaluation_report("Evaluation of m on s (test)", metrics, figures, {"model": "m", "images": 400},
                             {"model": "m", "intended use": "research"}, gallery, "yellow ring: the true finding.")


def test_the_report_is_a_few_hundred_kb_of_still_pictures_without_raw_json():
    page = _report()
    assert len(page.encode()) < 600_000
    assert page.count("<img") == 4 + 16 and "<script" not in page  # still plots, no 4.5 MB of plotly
    assert "0.912" in page and "0.91234" not in page  # three decimals
    assert "yellow ring" in page and "false positive 15" in page
    assert '"fingerprint"' not in page and "{" not in page.split("<body>")[1].split("<style>")[0]


def test_the_confusion_matrix_keeps_its_labels_and_counts():
    drawing = still_drawing(confusion_heatmap(np.array([[5, 1], [2, 7]]), ["normal", "pneumonia"], False))
    axes = drawing.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["normal", "pneumonia"]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["normal", "pneumonia"]
    assert axes.get_xlabel() == "predicted" and axes.get_ylabel() == "true"
    assert sorted(t.get_text() for t in axes.texts) == ["1", "2", "5", "7"]


@pytest.mark.browser
def test_the_report_is_a_few_screens_long(browser, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(_report(), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.as_uri())
    height = page.evaluate("document.body.scrollHeight")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()
    assert height < 5 * 900  # five screens at most
