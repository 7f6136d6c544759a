"""The augmentation playground's simulated nodules: a share of the training films without a finding given one to
three nodules from CT (or generated ones), as a run blends them in (``medlib train --nodules``), drawn with their
true outlines; and that choice handed to the Training page."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from medlib.datasets import Dataset
from medlib.datasets.nodule_sets import NoduleSimulation, film_spacing, lung_fields, normal_films
from medlib.datasets.nodules import CONTRASTS, DIAMETERS_MM
from medlib.targets import Finding
from medlib.training.config import CONFIG_PARAMS
from ui import state
from ui.nodule_sources import ANATOMY, GENERATED, ct_folder, lungs_of, nodules_from, sources
from ui.spec_editor import param_widget
from ui.workspace import shelf

SHARE = next(p for p in CONFIG_PARAMS if p.name == "nodule_share")
"""The share of films given nodules: the training setting, declared once (``--nodule-share``)."""


@dataclass
class Simulated:
    """The playground's simulation on the active set: each film without a finding, drawn as a run draws it."""

    simulation: NoduleSimulation
    dataset: Dataset
    normal: frozenset[int]
    lungs: list[np.ndarray] | None
    """The set's own lung fields, where its masks name lungs; else each film's are outlined by the anatomy model."""

    def films(self, i: int, count: int, seed: int) -> list[tuple[np.ndarray, list[Finding]]] | None:
        """``count`` draws of film ``i`` (the film, or it with nodules, and their findings); ``None`` for a film
        that holds a finding (a run gives nodules only to films without one)."""
        if i not in self.normal:
            return None
        film = self.dataset.images[i]
        if self.lungs is not None:
            lungs = self.lungs[i]
        else:
            anatomy = next(m for m in shelf().models() if m.name == ANATOMY)
            lungs = lungs_of(film, str(anatomy.path), anatomy.card.sha256)
        return self.simulation.draws(film, lungs, count, seed)


def _handed_over(folder: str, share: float) -> None:
    state.remember(state.TRAIN_NODULES, {"folder": folder, "share": share})


def nodule_step(dataset: Dataset) -> Simulated | None:
    """The controls of the simulated nodules (for a set with located findings) and the simulation they set, or
    ``None`` while they are off (or the set's films have no lungs to place nodules in)."""
    if dataset.findings is None or dataset.channels != 1:
        return None
    st.subheader("Simulated nodules")
    if not st.toggle("Blend nodules into films without a finding", False, key="aug_nodules",
                     help="as a training run with simulated nodules does: a share of its training films without a "
                          "finding receive 1-3 nodules each; validation and test films never do"):
        return None
    lungs = lung_fields(dataset)
    if lungs is None and not any(m.name == ANATOMY for m in shelf().models()):
        st.info(f"Nodules are placed inside the lungs: this set's masks name none, and {ANATOMY}, which would "
                "outline them, is not among the models.", icon=":material/info:")
        return None
    source = st.selectbox("Nodules", sources(), key="aug_nodule_source",
                          help="a generated nodule, or the real lung nodules cut from CT that this server has")
    share = param_widget(SHARE, SHARE.default, "aug_nodule_share")
    spacing, where = film_spacing(dataset)
    st.caption(f"{DIAMETERS_MM[0]:g}-{DIAMETERS_MM[1]:g} mm across, contrast {CONTRASTS[0]:g}-{CONTRASTS[1]:g}, "
               f"inside the lungs ({'the set’s own outlines' if lungs is not None else f'outlined by {ANATOMY}'}); "
               f"{spacing:.2f} mm a pixel ({where}). The nodule's outline is drawn as a finding.")
    folder = ct_folder()
    if source != GENERATED and folder is not None:
        st.button("Use in training", key="aug_nodules_train", icon=":material/model_training:",
                  on_click=_handed_over, args=(str(folder), float(share)),
                  help="the Training page then trains with these nodules, in this share of the films")
    simulation = NoduleSimulation(nodules_from(source), [], spacing, float(share), source)
    return Simulated(simulation, dataset, frozenset(normal_films(dataset)), lungs)
