"""The data sets on the server (:mod:`medlib.datasets.server`), each read once and shared by every session."""

from __future__ import annotations

import streamlit as st

from medlib.datasets import Dataset, VolumeSet, load_dataset


@st.cache_resource(max_entries=4, show_spinner=False)
def server_set(path: str) -> Dataset | VolumeSet:
    """A data set of the server, read once for every session (it holds no visitor's data and no page changes it)."""
    return load_dataset(path)
