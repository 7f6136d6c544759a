"""medlib as a package: the wheel holds every subpackage and the shipped models, installs into a fresh virtual
environment, and there runs ``medlib info phantom`` and imports every module."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "medlib").rglob("*.py")
    if path.name != "__main__.py"
)


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=600,
                            env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def _see_these_packages(venv: Path) -> None:
    """Let ``venv`` import this environment's packages (a ``.pth`` file naming its site-packages folders).

    ``venv --system-site-packages`` would not do: run from inside a virtual environment it links the *base*
    interpreter's packages, not this environment's, and the installed medlib could not import pydicom.
    """
    (target,) = (venv / "lib").glob("python*/site-packages")
    folders = [p for p in (*site.getsitepackages(), site.getusersitepackages()) if Path(p).is_dir()]
    (target / "_medlib_test_deps.pth").write_text("\n".join(folders) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment with the wheel installed (its dependencies come from this environment's packages)."""
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    source = tmp_path_factory.mktemp("source")  # a copy, so that the build leaves nothing in the checkout
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("medlib", "models"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", ".checkpoint*"))
    wheels = tmp_path_factory.mktemp("wheels")
    _run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels,
         cwd=source)
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv)
    _see_these_packages(venv)
    (wheel,) = wheels.glob("medlib-*.whl")
    _run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=venv)
    return venv


def test_the_wheel_installs_a_complete_medlib_with_its_command_and_models(installed, tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": ""}
    env.pop("MEDLIB_MODELS", None)
    info = json.loads(_run(installed / "bin" / "medlib", "info", "phantom", "--n", "12", cwd=tmp_path, env=env))
    assert info["images"] == 12
    code = ("import importlib, json, medlib, medlib.store.folders as s; "
            f"[importlib.import_module(m) for m in {MODULES!r}]; "
            "print(json.dumps([medlib.__file__, str(s.shipped_store()), str(s.default_store())]))")
    where, shipped, writable = json.loads(_run(installed / "bin" / "python", "-c", code, cwd=tmp_path, env=env))
    assert Path(where).is_relative_to(installed) and "site-packages" in where  # the installed copy, not the checkout
    assert Path(shipped) == installed / "share" / "medlib" / "models"
    shipped_models = {card.parent.name for card in (ROOT / "models").glob("*/card.json")}
    assert {p.name for p in Path(shipped).iterdir() if p.is_dir()} == shipped_models  # every one in models/
    assert Path(writable) == tmp_path / ".local" / "share" / "medlib" / "models"  # a user folder, not site-packages
