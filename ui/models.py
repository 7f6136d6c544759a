"""Models for the pages: loaded once per file version and shared, used under a lock.

``st.cache_resource`` hands the same Keras model to every session, and Keras'
``predict`` is not thread-safe (TensorFlow issue 61298), so each model comes
with its own lock; callers hold it while they predict.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from medlib.inference import LoadedModel, open_model


@st.cache_resource(max_entries=6, show_spinner="Loading the model (safe mode)…")
def _load(path: str, sha256: str) -> tuple[LoadedModel, threading.Lock]:
    return open_model(Path(path)), threading.Lock()


def loaded_model(path: Path, sha256: str) -> tuple[LoadedModel, threading.Lock]:
    """The model in ``path`` (a store folder) and its lock; a new file hash loads it again."""
    return _load(str(path), sha256)
