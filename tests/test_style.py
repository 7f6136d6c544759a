"""The code base stays ruff-clean (lint rules in pyproject.toml) and free of formatter markers."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_ruff_check_passes():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -r requirements-dev.txt)")
    result = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_formatter_markers_without_a_formatter():
    # No formatter runs on this code (ruff check lints it, with a 120-character line), so a marker that tells
    # one to skip a line only adds noise.
    marked = [str(path.relative_to(ROOT)) for folder in ("medlib", "ui", "app_pages", "tests", "benchmarks")
              for path in (ROOT / folder).rglob("*.py") if "fmt: " + "skip" in path.read_text(encoding="utf-8")]
    assert not marked, marked


def test_pages_hold_no_bare_strings_that_streamlit_would_draw():
    import ast

    # Streamlit's "magic" draws any bare expression of a page script: a docstring below a constant becomes text
    # on the page.
    drawn = [f"{path.name}:{node.lineno}" for path in [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py")]
             for node in ast.parse(path.read_text(encoding="utf-8")).body[1:]
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)]
    assert not drawn, drawn
