"""AppTest of the Evaluation page on the two toy classifiers trained on a planted-square set (see conftest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.helpers import squares

pytest.importorskip("tensorflow")


@pytest.fixture
def page(toy_classifiers, monkeypatch) -> AppTest:
    root, _ = toy_classifiers
    monkeypatch.setenv("MEDLIB_MODELS", str(root))
    data = squares(seed=1, contrast=0.4)  # fainter squares than they learned from: found, but less surely
    app = AppTest.from_file(str(ROOT / "app_pages" / "evaluate.py"), default_timeout=120)
    app.session_state["active_dataset"] = data
    app.session_state["active_model"] = "resnet"
    app.run()
    assert not app.exception, app.exception
    return app


def _metric(app: AppTest, name: str) -> float:
    table = app.dataframe[0].value
    return float(table.loc[table["metric"] == name, "estimate"].iloc[0])


def test_metrics_with_intervals_matrix_and_curves(page):
    table = page.dataframe[0].value
    assert table["metric"].tolist()[-1] == "AUC" and len(table) == 7
    assert (table["95% CI low"] <= table["estimate"]).all() and (table["estimate"] <= table["95% CI high"]).all()
    assert _metric(page, "AUC") > 0.9
    charts = page.get("plotly_chart")
    assert len(charts) >= 4  # confusion matrix, ROC, PR, calibration (and the comparison ROC)
    assert page.selectbox(key="ev_model").value == "resnet"
    assert page.selectbox(key="ev_split").value == "test"


def test_threshold_updates_the_metrics_and_the_gallery_shows_heat_maps(page):
    import json
    from pathlib import Path

    card = json.loads((Path(page.session_state["ev_threshold_of"]) / "card.json").read_text())
    assert page.slider(key="ev_threshold").value == round(card["threshold"]["value"], 3)  # the card's, at first
    before = _metric(page, "sensitivity (recall)")
    page.slider(key="ev_threshold").set_value(0.999).run()
    assert not page.exception
    after = _metric(page, "sensitivity (recall)")
    assert after < before
    captions = [image.proto.imgs[0].caption for image in page.get("image")]
    assert any("true square" in c and "predicted empty" in c for c in captions)  # false negatives, with overlays
    youden_at_top = after + _metric(page, "specificity")
    page.button(key="ev_youden").click().run()
    assert page.slider(key="ev_threshold").value < 0.999
    assert _metric(page, "sensitivity (recall)") + _metric(page, "specificity") >= youden_at_top
    page.button(key="ev_card").click().run()
    assert page.slider(key="ev_threshold").value == round(card["threshold"]["value"], 3)


def test_comparison_of_two_models_has_a_paired_test(page):
    assert page.selectbox(key="ev_other").value == "seed"
    table = page.dataframe[1].value
    assert table["metric"].tolist() == ["AUC", "accuracy"]
    assert 0.0 < table["p-value"].iloc[0] <= 1.0
    assert any("Paired bootstrap" in c.value for c in page.caption)


def test_downloads_are_offered(page):
    labels = [button.proto.label for button in page.get("download_button")]
    assert labels == ["Predictions (.csv)", "Report (.html)", "Model card and data set (.json)"]
    assert any(c.value.startswith("the heat map: where the evidence") for c in page.caption)  # the gallery's legend


def test_no_fitting_model_yet_points_to_training(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDLIB_MODELS", str(tmp_path))
    app = AppTest.from_file(str(ROOT / "app_pages" / "evaluate.py"), default_timeout=60).run()
    assert not app.exception
    assert any("No model in the store learns from" in i.value and "Training" in i.value for i in app.info)


def test_a_locating_model_gets_its_froc_curve_and_the_films_it_missed(toy_locator, monkeypatch):
    loaded, _, data = toy_locator
    monkeypatch.setenv("MEDLIB_MODELS", str(loaded.stored.path.parent))
    app = AppTest.from_file(str(ROOT / "app_pages" / "evaluate.py"), default_timeout=120)
    app.session_state["active_dataset"] = data
    app.run()
    assert not app.exception, app.exception
    assert app.selectbox(key="ev_model").value == "spots"
    table = next(frame.value for frame in app.dataframe if "figure" in frame.value.columns)  # after its folds' table
    assert table["figure"].tolist()[:7] == [f"sensitivity at {r:g} FP/image" for r in (0.125, 0.25, 0.5, 1, 2, 4, 8)]
    assert table["figure"].tolist()[-1] == "image-level AUC"
    assert any("FROC" in str(chart.proto.spec) for chart in app.get("plotly_chart"))
    assert any("film(s) with a missed nodule" in m.value for m in app.markdown)


def test_a_segmenter_of_several_structures_gets_a_row_per_structure(tmp_path, monkeypatch):
    from medlib.training import TrainConfig, train
    from tests.helpers import FAST, two_structures

    data = two_structures(48)
    train(TrainConfig(**{**FAST, "task": "segment", "epochs": 4}), tmp_path / "two", dataset=data)
    monkeypatch.setenv("MEDLIB_MODELS", str(tmp_path))
    app = AppTest.from_file(str(ROOT / "app_pages" / "evaluate.py"), default_timeout=120)
    app.session_state["active_dataset"] = data
    app.run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert table.index.tolist() == ["square", "disk", "mean of the structures"]
    assert set(table.columns) == {"dice", "iou", "sensitivity", "specificity", "hd95", "auc"}


def test_a_volume_model_is_evaluated_per_structure_in_millimetres(toy_volume_model, monkeypatch):
    from medlib.datasets import load_dataset

    loaded, _, root = toy_volume_model
    monkeypatch.setenv("MEDLIB_MODELS", str(loaded.stored.path.parent))
    app = AppTest.from_file(str(ROOT / "app_pages" / "evaluate.py"), default_timeout=120)
    app.session_state["volume_set"] = load_dataset(root)
    app.run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert table.index.tolist() == ["sphere", "ellipsoid"] and "HD95 (mm)" in table.columns
    assert any(h.value == "Its worst volumes" for h in app.subheader) and len(app.get("image")) >= 2


def test_a_classifier_is_fitted_to_the_active_set_with_before_and_after(page):
    page.text_input(key="ev_site_name").set_value("resnet-at-this-site").run()
    page.button(key="ev_site").click().run()
    assert not page.exception and not page.error
    assert any("Saved as **resnet-at-this-site**" in s.value for s in page.success)
    table = next(t.value for t in page.table if "before" in t.value.columns)
    assert list(table.index) == ["calibration error (ECE)", "sensitivity", "specificity",
                                 "AUC (the ranking: unchanged)", "threshold"]
    assert table.loc["AUC (the ranking: unchanged)", "before"] == table.loc["AUC (the ranking: unchanged)", "after"]
    charts = {chart.proto.id for chart in page.get("plotly_chart")}
    assert len(charts) >= 2 and any("films of squares it was not fitted on" in c.value for c in page.caption)
