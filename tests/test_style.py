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


def test_no_medlib_module_is_over_300_lines():
    long = {str(path.relative_to(ROOT)): n for path in (ROOT / "medlib").rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 300}
    assert not long, long


def test_pages_write_session_state_only_through_ui_state():
    import ast

    def writes(node: ast.AST) -> bool:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        if any(isinstance(t, ast.Subscript) and "session_state" in ast.unparse(t.value) for t in targets):
            return True
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "pop", "update", "setdefault", "clear") and "session_state" in ast.unparse(node.func.value)

    found = [f"{path.name}:{node.lineno}" for path in [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py")]
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if writes(node)]
    assert not found, found


def test_tasks_are_asked_not_compared_by_name():
    # A task's behaviour comes from its registry entry (medlib.tasks); code that compares task names decides
    # it a second time.
    import re

    names = "classify|segment|locate"
    compared = re.compile(rf"""(==|!=)\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    found = [f"{path.relative_to(ROOT)}:{n}" for folder in ("medlib", "ui", "app_pages")
             for path in (ROOT / folder).rglob("*.py")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if compared.search(line)]
    assert not found, found


def test_only_tasks_read_a_tasks_traits():
    # A task answers through its methods (medlib.tasks.base.Task); code outside medlib/tasks that reads what kind of
    # output a task has, or whether it learns from findings, decides the task's behaviour a second time.
    import re

    traits = re.compile(r"\b(task|spec)\.(dense|from_findings|_maps)\b")
    found = [f"{path.relative_to(ROOT)}:{n}" for folder in ("medlib", "ui", "app_pages", "benchmarks")
             for path in (ROOT / folder).rglob("*.py") if "tasks" not in path.relative_to(ROOT).parts
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if traits.search(line)]
    assert not found, found


def _medlib_imports() -> dict[str, set[str]]:
    """Each medlib module and the medlib modules it imports, anywhere in it (inside functions and under
    TYPE_CHECKING too)."""
    import ast

    modules = {".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
               for path in (ROOT / "medlib").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
                targets |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_medlib_has_no_import_cycle():
    graph, state, cycles = _medlib_imports(), {}, []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles[:3]
