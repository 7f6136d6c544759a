"""AppTest of the Training page: train on a tiny synthetic set, see the result, manage the models.

``MEDLIB_MODELS`` is the shared store (read-only in the app); what a session trains or uploads lands in its own
workspace.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from medlib.datasets.phantom import make_phantom
from medlib.errors import StoreError
from medlib.store.folders import list_models
from medlib.store.workspace import Shelf
from tests.conftest import ROOT

pytest.importorskip("tensorflow")


def _open(**query: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app_pages" / "train.py"), default_timeout=120)
    app.session_state["active_dataset"] = make_phantom(30, size=32)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception
    return app


@pytest.fixture
def page(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("MEDLIB_MODELS", str(tmp_path))
    return _open()


def _own(app: AppTest) -> Path:
    """The models folder of the session's private workspace."""
    return app.session_state["workspace"].models


def _tiny_model(store: Path, name: str) -> None:
    import keras

    from medlib.store.card import ModelCard
    from medlib.store.folders import save_model

    inputs = keras.Input((32, 32, 1))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    save_model(model, ModelCard("classify", "tiny", [8, 8, 1], ["normal", "finding"], metrics={"test": {"auc": 0.9}}),
               store, name)


def _wait_for(predicate, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_the_page_says_what_the_run_will_do_before_it_starts(page):
    assert page.number_input(key="tr_max_minutes").value == 10.0  # a visitor's run ends within minutes by default
    line = next(c.value for c in page.caption if c.value.startswith("**This run**"))
    assert "until the time limit of 10 minutes" in line and "batch " in line
    recipe = page.table[0].value
    assert recipe.loc["epochs", "value"] == "until the time limit (10 min)"
    assert "measured" in recipe.loc["batch size", "why"]  # the batch this server's speed affords, not the rule
    folds = int(recipe.loc["folds", "value"]) if "folds" in recipe.index else 1
    if folds > 1:  # a small set: the budget is shared by its folds, and the page says so
        assert f"split over {folds} folds" in line and "minutes per fold" in recipe.index


def test_train_from_the_page_lands_in_the_store_and_becomes_active(page, tmp_path):
    page.number_input(key="tr_epochs").set_value(2)
    page.number_input(key="tr_max_minutes").set_value(0.0)
    page.text_input(key="tr_name").set_value("from-the-page")
    page.button(key="tr_start").click().run()
    assert not page.exception
    assert page.query_params["job"]
    assert page.button(key="tr_start").disabled  # drawn again at once: no second run while this one goes
    _wait_for(lambda: [m.name for m in list_models(_own(page))] == ["from-the-page"])
    assert list_models(tmp_path) == []  # nothing in the shared store
    time.sleep(1.0)
    page.run()
    assert not page.exception
    assert any("Saved as **from-the-page**" in s.value for s in page.success)
    assert page.session_state["active_model"] == "from-the-page"
    assert page.button(key="tr_start").disabled is False

    # A reload is a new session with the same URL: the job id and workspace token in it find the run again.
    reloaded = _open(job=page.query_params["job"], ws=page.query_params["ws"])
    assert any("from-the-page" in m.value for m in reloaded.markdown)
    assert _own(reloaded) == _own(page)
    # Another browser session sees neither the job (even given its id) nor the model, and cannot delete it.
    other = _open(job=page.query_params["job"])
    assert not any("from-the-page" in m.value for m in other.markdown)
    assert _own(other) != _own(page)
    assert not any("from-the-page" in f.value.to_string() for f in other.dataframe)
    with pytest.raises(StoreError, match="no model named"):
        Shelf(_own(other), (tmp_path,)).delete("from-the-page")
    assert [m.name for m in list_models(_own(page))] == ["from-the-page"]


def test_an_existing_name_is_refused(page, tmp_path):
    _tiny_model(tmp_path, "taken")  # a shared model's name
    page.text_input(key="tr_name").set_value("taken").run()
    page.button(key="tr_start").click().run()
    assert "exists already" in page.error[0].value


def test_store_tab_lists_renames_and_deletes_own_models_only(page, tmp_path):
    _tiny_model(tmp_path, "shipped-one")
    page.run()
    assert not any(b.key in ("st_rename", "st_delete") for b in page.button)  # a shared model has neither
    assert any("cannot be renamed or deleted" in c.value for c in page.caption)
    with pytest.raises(StoreError, match="shared model: you can use and download it, but not delete it"):
        Shelf(_own(page), (tmp_path,)).delete("shipped-one")
    _tiny_model(_own(page), "stored-one")
    page.run()
    store = next(frame.value for frame in page.dataframe if "name" in frame.value.columns)
    assert store["name"].tolist() == ["stored-one", "shipped-one"]
    assert store["whose"].tolist() == ["yours", "shared (read-only)"]
    page.selectbox(key="st_model").set_value("stored-one").run()
    page.button(key="st_use").click().run()
    assert page.session_state["active_model"] == "stored-one"
    page.button(key="st_check").click().run()
    assert "stored-one loads: input [32, 32, 1], output [3]" in page.success[0].value
    page.text_input(key="st_new_name").set_value("renamed").run()
    page.button(key="st_rename").click().run()
    assert [m.name for m in list_models(_own(page))] == ["renamed"]
    assert page.session_state["active_model"] == "renamed"
    page.checkbox(key="st_confirm").check().run()
    page.button(key="st_delete").click().run()
    assert list_models(_own(page)) == []
    assert [m.name for m in list_models(tmp_path)] == ["shipped-one"]
    assert "active_model" not in page.session_state


def test_page_command_line_and_library_declare_each_setting_alike(page, tmp_path):
    """Every training setting comes from one declaration: the page's widget (the share of films given simulated
    nodules: the Augmentation page's, with the nodules), the flag and the config field."""
    import argparse
    from dataclasses import fields

    from medlib.cli import build_parser
    from medlib.datasets import load_dataset
    from medlib.training import CONFIG_PARAMS, TrainConfig
    from tests.test_targets import NAMES, _write_set

    playground = AppTest.from_file(str(ROOT / "app_pages" / "augment.py"), default_timeout=60)
    playground.session_state["active_dataset"] = load_dataset(_write_set(tmp_path / "films", labels=NAMES))
    playground.run().toggle(key="aug_nodules").set_value(True).run()
    augmentation = {w.key: w for w in playground.slider}

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags = {action.dest: action for action in commands.choices["train"]._actions}
    widgets = {w.key: w for kind in ("number_input", "selectbox", "slider", "radio") for w in getattr(page, kind)}
    for param in CONFIG_PARAMS:
        assert defaults[param.name] == param.default, param.name
        flag = flags[param.name]
        assert flag.default is None and (tuple(flag.choices) == param.choices if param.kind == "choice" else
                                          flag.type is {"int": int, "float": float}[param.kind]), param.name
        if param.name == "fit" or (param.shown_if and param.shown_if[1] != ("classify",)):
            continue  # read with the data set; segmentation only (this set is classified)
        widget = widgets.get(f"tr_{param.name}") or augmentation.get(f"aug_{param.name}")
        if param.name != "task":  # the page's own time limit: a visitor's run ends within minutes
            assert widget.value == (10.0 if param.name == "max_minutes" else param.default), param.name
        if param.kind in ("int", "float"):
            assert (widget.proto.min, widget.proto.max) == (param.low, param.high), param.name
        elif param.name not in ("task", "model"):
            assert tuple(widget.options) == param.choices, param.name


def test_a_second_run_waits_in_the_queue_shows_its_position_and_starts_after_the_first(tmp_path, monkeypatch):
    from ui import jobs

    monkeypatch.setenv("MEDLIB_MODELS", str(tmp_path))
    monkeypatch.setenv("MEDLIB_MAX_TRAINING_RUNS", "1")
    jobs.training_queue.clear()  # a queue with the one slot set above
    first, second = _open(), _open()
    for app, name, epochs in ((first, "first", 200), (second, "second", 2)):
        app.number_input(key="tr_epochs").set_value(epochs)
        app.number_input(key="tr_max_minutes").set_value(0.0)
        app.text_input(key="tr_name").set_value(name)
        app.button(key="tr_start").click().run()
        assert not app.exception
    assert any("position 1" in i.value for i in second.info)
    assert second.button(key="tr_stop").label == "Leave the queue"
    assert not any("position" in i.value for i in first.info)
    first.button(key="tr_stop").click().run()  # the first session stops its own run; the second one's goes on
    _wait_for(lambda: [m.name for m in list_models(_own(second))] == ["second"], 240)
    assert [m.name for m in list_models(_own(first))] == ["first"]
    assert not any("second" in m.value for m in first.markdown)
    jobs.training_queue.clear()


def test_a_volume_set_shows_its_3d_recipe_and_trains_a_volume_model(tmp_path, monkeypatch):
    from medlib.datasets import load_dataset
    from tests.helpers import write_task

    monkeypatch.setenv("MEDLIB_MODELS", str(tmp_path / "store"))
    app = AppTest.from_file(str(ROOT / "app_pages" / "train.py"), default_timeout=120)
    app.session_state["volume_set"] = load_dataset(write_task(tmp_path / "Task99_Spheres", count=8))
    app.run()
    assert not app.exception, app.exception
    recipe = app.dataframe[0].value
    assert recipe.loc[recipe["setting"] == "configuration", "value"].iloc[0] == "3-D U-Net"
    app.number_input(key="tr_volume_epochs").set_value(2)
    app.text_input(key="tr_volume_name").set_value("spheres-from-the-page")
    app.button(key="tr_start").click().run()
    assert not app.exception, app.exception
    _wait_for(lambda: [m.name for m in list_models(_own(app))] == ["spheres-from-the-page"], seconds=240)
    card = list_models(_own(app))[0].card
    assert card.dimensions == 3 and card.structures == ["sphere", "ellipsoid"]
