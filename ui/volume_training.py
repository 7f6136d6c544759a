"""The Training page for a set of volumes: the 3-D recipe derived from its fingerprint, shown before the run, and the
few settings a volume run takes."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from medlib.datasets.volumes import VolumeSet
from medlib.errors import MedlibError
from medlib.tasks.segment import SEGMENT
from medlib.training import TrainConfig
from medlib.training.volumes import plan_volumes
from ui.volume_preview import recipe_table


def volume_form(volumes: VolumeSet) -> tuple[TrainConfig, str] | None:
    """The settings of a run on ``volumes`` and its model's name (None where the set cannot train)."""
    st.caption(f"The 3-D set {volumes.name} ({len(volumes)} volumes; structures {', '.join(volumes.structures)}) is "
               "loaded on the Upload page: a run here trains a volume model on it.")
    try:
        _, choices = plan_volumes(volumes, np.flatnonzero(volumes.split == "train"))
    except MedlibError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    with st.expander("The 3-D recipe (derived from the volumes)", expanded=True):
        recipe_table(choices)
    left, middle, right = st.columns(3)
    minutes = left.number_input("Time limit (minutes, 0 = none)", 0.0, 600.0, 15.0, 1.0, key="tr_volume_minutes")
    epochs = middle.number_input("Epochs (0 = from the time limit)", 0, 10_000, 0, key="tr_volume_epochs")
    seed = right.number_input("Seed", 0, 2**31 - 1, 0, key="tr_volume_seed")
    name = st.text_input("Model name", f"volumes-{time.strftime('%Y%m%d-%H%M%S')}", key="tr_volume_name")
    return TrainConfig(data=volumes.name, task=SEGMENT.name, max_minutes=float(minutes), epochs=int(epochs),
                       seed=int(seed)), name.strip()
