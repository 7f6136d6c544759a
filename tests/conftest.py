"""Shared fixtures: real DICOM test files, a bad-input corpus, and the app served for browser tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from medlib.datasets import Dataset

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CHROMIUM = os.environ.get("MEDLIB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def dicom_file(name: str) -> Path:
    """A real DICOM file from pydicom's own test files or the pydicom-data package (never downloaded)."""
    import pydicom.data

    for folder in (Path(pydicom.data.__file__).parent / "test_files",):
        if (folder / name).is_file():
            return folder / name
    try:
        import data_store
    except ImportError:
        pytest.skip("install pydicom-data (requirements-dev.txt) for the real DICOM files")
    path = Path(data_store.__file__).parent / "data" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in the installed pydicom-data")
    return path


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``, or a skip that says why."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real data sets are not here ({SHARED_DATA} is absent)")
    return SHARED_DATA


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def browser_store(tmp_path_factory) -> Path:
    """The model store of the served app: a temporary copy of the shipped models, so tests never touch ``models/``."""
    store = tmp_path_factory.mktemp("browser-models")
    for card in (ROOT / "models").glob("*/card.json"):
        shutil.copytree(card.parent, store / card.parent.name)
    return store


@contextlib.contextmanager
def serve_app(store: Path, log_name: str, *options: str) -> Iterator[str]:
    """``streamlit run app.py`` on a free localhost port with extra server ``options``; yields its URL."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    port = _free_port()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "artifacts" / log_name, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         *options],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MEDLIB_MODELS": str(store)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"streamlit did not start within 90 s; see artifacts/{log_name}")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            pytest.fail(f"streamlit did not stop within 30 s of SIGTERM; see artifacts/{log_name}")
        finally:
            log.close()


@pytest.fixture(scope="session")
def app_url(browser_store) -> Iterator[str]:
    """The app served for the browser tests, for as long as they need it (log: artifacts/streamlit.log)."""
    with serve_app(browser_store, "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def toy_classifiers(tmp_path_factory) -> tuple[Path, Dataset]:
    """A store holding two classifiers trained once per session on :func:`tests.helpers.squares`: ``resnet`` (the
    default architecture) and ``seed`` (the seed article's CNN), for the tests that only need trained models."""
    pytest.importorskip("tensorflow")
    from medlib.training import TrainConfig, train
    from tests.helpers import FAST, squares

    root = tmp_path_factory.mktemp("toy-classifiers")
    data = squares()
    train(TrainConfig(**{**FAST, "epochs": 8}), root / "resnet", dataset=data)
    train(TrainConfig(**{**FAST, "model": "seed-cnn", "epochs": 8}), root / "seed", dataset=data)
    return root, data


@pytest.fixture(scope="session")
def toy_locator(tmp_path_factory):
    """A locating model trained once per session on two folds of :func:`tests.helpers.spots` (their ensemble
    stored, in a store of its own), loaded; the run's result; and the set."""
    pytest.importorskip("tensorflow")
    from medlib.models.loaded import open_model
    from medlib.training import TrainConfig, train
    from tests.helpers import FAST, spots

    folder = tmp_path_factory.mktemp("toy-locator") / "spots"
    data = spots()
    result = train(TrainConfig(**{**FAST, "task": "locate", "folds": 2, "epochs": 12}), folder, dataset=data)
    return open_model(folder), result, data


@pytest.fixture(scope="session")
def toy_volume_model(tmp_path_factory):
    """A 3-D U-Net trained once per session on a Decathlon task of sphere-and-ellipsoid phantoms (a store of its own),
    loaded; the run's result; and the task folder."""
    pytest.importorskip("tensorflow")
    from medlib.models.loaded import open_model
    from medlib.training import TrainConfig, train
    from tests.helpers import write_task

    root = write_task(tmp_path_factory.mktemp("task") / "Task99_Spheres")
    folder = tmp_path_factory.mktemp("volume-store") / "spheres"
    result = train(TrainConfig(data=str(root), epochs=25, learning_rate=5e-3, early_stopping=0), folder,
                   about={"body_part": "brain", "modality": "MRI"})
    return open_model(folder), result, root
