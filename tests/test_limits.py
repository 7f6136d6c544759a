"""The server's limits: declared once, set by environment variable or TOML file, named when hit."""

from __future__ import annotations

import pytest

from medlib.errors import ImageTooLargeError
from medlib.input import read_bytes
from medlib.limits import LIMITS, limit, max_training_runs


def test_defaults_fit_a_small_shared_host(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .streamlit/medlib.toml here
    for item in LIMITS.values():
        monkeypatch.delenv(item.variable, raising=False)
    assert limit("max_dataset_mb") + limit("max_file_mb") < 2 << 30  # both at once stay under 2 GB


def test_an_environment_variable_beats_the_file_which_beats_the_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEDLIB_MAX_FILE_MB", raising=False)
    assert limit("max_file_mb") == LIMITS["max_file_mb"].default << 20
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "medlib.toml").write_text("[limits]\nmax_file_mb = 3\n")
    assert limit("max_file_mb") == 3 << 20
    monkeypatch.setenv("MEDLIB_MAX_FILE_MB", "1")
    assert limit("max_file_mb") == 1 << 20


def test_a_bad_setting_says_where_it_is(monkeypatch):
    monkeypatch.setenv("MEDLIB_MAX_TRAINING_RUNS", "two")
    with pytest.raises(ValueError, match="MEDLIB_MAX_TRAINING_RUNS must be a whole number of runs"):
        max_training_runs()
    monkeypatch.setenv("MEDLIB_MAX_TRAINING_RUNS", "3")
    assert max_training_runs() == 3


def test_a_refusal_names_the_limit_and_how_to_raise_it(monkeypatch):
    monkeypatch.setenv("MEDLIB_MAX_FILE_MB", "1")
    with pytest.raises(ImageTooLargeError) as refused:
        read_bytes(bytes(2 << 20))
    message = str(refused.value)
    assert "max_file_mb is 1 MB" in message and "MEDLIB_MAX_FILE_MB" in message
    assert read_bytes(bytes(1000))[0] == bytes(1000)


def test_the_readme_lists_every_limit():
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(f"`{item.variable}`" in readme for item in LIMITS.values())
