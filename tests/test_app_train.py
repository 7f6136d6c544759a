"""AppTest of the Training page: train on a tiny synthetic set, see the result, manage the store."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from medlib.phantom import make_phantom
from medlib.store import list_models
from tests.conftest import ROOT

pytest.importorskip("tensorflow")


@pytest.fixture
def page(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("MEDLIB_MODELS", str(tmp_path))
    app = AppTest.from_file(str(ROOT / "app_pages" / "train.py"), default_timeout=120)
    app.session_state["active_dataset"] = make_phantom(30, size=32)
    app.run()
    assert not app.exception
    return app


def _wait_for(predicate, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_train_from_the_page_lands_in_the_store_and_becomes_active(page, tmp_path):
    page.number_input(key="tr_epochs").set_value(2)
    page.text_input(key="tr_name").set_value("from-the-page")
    page.button(key="tr_start").click().run()
    assert not page.exception
    assert page.query_params["job"]
    _wait_for(lambda: [m.name for m in list_models(tmp_path)] == ["from-the-page"])
    time.sleep(1.0)
    page.run()
    assert not page.exception
    assert any("Saved as **from-the-page**" in s.value for s in page.success)
    assert page.session_state["active_model"] == "from-the-page"
    assert page.button(key="tr_start").disabled is False

    # A reload is a new session with the same URL: the job id in it finds the run again.
    reloaded = AppTest.from_file(str(ROOT / "app_pages" / "train.py"), default_timeout=120)
    reloaded.session_state["active_dataset"] = make_phantom(30, size=32)
    reloaded.query_params["job"] = page.query_params["job"]
    reloaded.run()
    assert any("from-the-page" in m.value for m in reloaded.markdown)
    # Another browser session, without the id, does not see this job.
    other = AppTest.from_file(str(ROOT / "app_pages" / "train.py"), default_timeout=120)
    other.session_state["active_dataset"] = make_phantom(30, size=32)
    other.run()
    assert not any("from-the-page" in m.value for m in other.markdown)


def test_an_existing_name_is_refused(page, tmp_path):
    (tmp_path / "taken").mkdir()
    page.text_input(key="tr_name").set_value("taken").run()
    page.button(key="tr_start").click().run()
    assert "exists already" in page.error[0].value


def test_store_tab_lists_renames_and_deletes(page, tmp_path):
    import keras

    from medlib.store import save_model

    inputs = keras.Input((32, 32, 1))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    save_model(model, {"task": "classify", "metrics": {"test": {"auc": 0.9}}}, tmp_path, "stored-one")
    page.run()
    store = next(frame.value for frame in page.dataframe if "name" in frame.value.columns)
    assert store["name"].tolist() == ["stored-one"]
    page.button(key="st_use").click().run()
    assert page.session_state["active_model"] == "stored-one"
    page.button(key="st_check").click().run()
    assert "stored-one loads: input [32, 32, 1], output [3]" in page.success[0].value
    page.text_input(key="st_new_name").set_value("renamed").run()
    page.button(key="st_rename").click().run()
    assert [m.name for m in list_models(tmp_path)] == ["renamed"]
    assert page.session_state["active_model"] == "renamed"
    page.checkbox(key="st_confirm").check().run()
    page.button(key="st_delete").click().run()
    assert list_models(tmp_path) == []
    assert "active_model" not in page.session_state


def test_page_command_line_and_library_declare_each_setting_alike(page):
    """Every training setting comes from one declaration: the page's widget, the flag and the config field."""
    import argparse
    from dataclasses import fields

    from medlib.cli import build_parser
    from medlib.training import CONFIG_PARAMS, TrainConfig

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
        widget = widgets[f"tr_{param.name}"]
        if param.name != "task":
            assert widget.value == param.default, param.name
        if param.kind in ("int", "float"):
            assert (widget.proto.min, widget.proto.max) == (param.low, param.high), param.name
        elif param.name not in ("task", "model"):
            assert tuple(widget.options) == param.choices, param.name
