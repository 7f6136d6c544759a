"""Models for the pages: loaded once per file version and shared, used under a lock; a gate on heavy work.

``st.cache_resource`` hands the same Keras model to every session, and Keras'
``predict`` is not thread-safe (TensorFlow issue 61298), so each model comes
with its own lock; callers hold it while they predict.

Every session's script runs in a thread of the one server process. When many
visitors send a full-size film at once, letting all of them decode, diagnose
and draw together makes each wait for all the others (eight at once took 30 s
each on 2 cores, one alone 2 s); :func:`heavy_work` lets as many through as
there are CPUs, and the others wait their turn, each then done in its own time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from medlib.inference import LoadedModel, open_model
from medlib.limits import available_cpus


@st.cache_resource(max_entries=6, show_spinner="Loading the model (safe mode)…")
def _load(path: str, sha256: str) -> tuple[LoadedModel, threading.Lock]:
    return open_model(Path(path)), threading.Lock()


def loaded_model(path: Path, sha256: str) -> tuple[LoadedModel, threading.Lock]:
    """The model in ``path`` (a store folder) and its lock; a new file hash loads it again."""
    return _load(str(path), sha256)


@st.cache_resource
def _heavy_work_slots() -> threading.Semaphore:
    return threading.Semaphore(available_cpus())


@contextmanager
def heavy_work() -> Iterator[None]:
    """Hold one of the server's slots for CPU-heavy work (one per CPU the process may use) while inside."""
    with _heavy_work_slots():
        yield
