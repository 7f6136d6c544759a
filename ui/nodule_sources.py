"""Where simulated nodules come from on this server (the Nodule studio and the augmentation playground): the real
data sets beside the app, the CT nodules among them (read once per server), and a film's lungs outlined by the
anatomy model (once per film)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from medlib.answers.lungs import lung_field
from medlib.datasets.nodules import Nodule, generated_nodule, read_nodules
from medlib.datasets.server import server_data

GENERATED = "generated (a smooth solid nodule)"
ANATOMY = "cxr-anatomy"


def ct_folder() -> Path | None:
    """The server's folder of CT nodules (NODE21's layout), where it has one."""
    folder = server_data() / "node21_nodules"
    return folder if (folder / "nodules.csv").is_file() else None


def sources() -> list[str]:
    """The nodules to choose from: the generated one, and the real ones from CT where the server has them."""
    folder = ct_folder()
    return [GENERATED] + ([f"real, from CT ({folder.name})"] if folder is not None else [])


@st.cache_resource(show_spinner="Reading the CT nodules…")
def ct_nodules(folder: str) -> list[Nodule]:
    return read_nodules(folder)


def nodules_from(source: str, count: int = 8) -> list[Nodule]:
    """The nodules of ``source`` (one of :func:`sources`): the CT nodules, or ``count`` generated ones."""
    folder = ct_folder()
    if source == GENERATED or folder is None:
        return [generated_nodule(k) for k in range(count)]
    return ct_nodules(str(folder))


@st.cache_data(show_spinner="Outlining the lungs…", max_entries=8)
def lungs_of(film: np.ndarray, model_path: str, sha256: str) -> np.ndarray:
    """A film's lung fields, outlined by the anatomy model at ``model_path`` (cached by its file version)."""
    from ui.models import loaded_model

    model, lock = loaded_model(Path(model_path), sha256)
    with lock:
        return lung_field(film, model)
