"""The Dockerfile builds the app's image (where Docker is available; skipped otherwise)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_the_dockerfile_copies_what_the_app_needs():
    copied = set(re.findall(r"^COPY (\S+)", (ROOT / "Dockerfile").read_text(), flags=re.M))
    imported = {"app_pages", "ui", "medlib", "models", "samples", ".streamlit", "requirements.txt"}
    assert imported <= copied, imported - copied


def test_the_dockerfile_builds():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("Docker is not available here")
    result = subprocess.run([docker, "build", "-t", "medlab-test", "."], cwd=ROOT, capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
