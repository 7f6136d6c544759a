"""The Evaluation page for a set of volumes: a volume model's figures in mm per structure with their intervals, and
the volumes it did worst on, each at its slice of most disagreement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from medlib.datasets.volumes import VolumeSet
from medlib.display.drawing import draw_label_map, enlarge, scale_to_uint8
from medlib.models.predict import segment_volume
from medlib.scoring.volumes import volume_scores
from medlib.store.folders import StoredModel
from ui.intervals import with_interval
from ui.legend import legend
from ui.models import loaded_model

FIGURES = {"dice": "Dice", "hd95_mm": "HD95 (mm)", "asd_mm": "surface distance (mm)",
           "abs_volume_error_pct": "|volume error| (%)", "volume_ml": "volume (mL)"}
WORST = 4


@st.cache_data(max_entries=4, show_spinner="Segmenting the split's volumes…")
def _predicted(path: str, sha256: str, name: str, split: str, _volumes: VolumeSet) -> list[np.ndarray]:
    loaded, lock = loaded_model(Path(path), sha256)
    with lock:
        return [segment_volume(loaded.model, loaded.volume_steps, _volumes.volumes[i].image,
                               _volumes.volumes[i].spacing) for i in np.flatnonzero(_volumes.split == split)]


def volume_evaluation(volumes: VolumeSet, models: list[StoredModel]) -> None:
    """Choose a volume model that outlines the set's structures and a split; its figures and worst volumes."""
    fitting = [m for m in models if m.card.dimensions == 3 and m.card.structures == list(volumes.structures)]
    st.caption(f"The 3-D set {volumes.name} ({len(volumes)} volumes; structures {', '.join(volumes.structures)}) is "
               "loaded on the Upload page: it is evaluated here.")
    if not fitting:
        st.info(f"No volume model in the store outlines {', '.join(volumes.structures)}: train one (python -m "
                "medlib train --data TASK_FOLDER).", icon=":material/info:")
        return
    splits = [s for s in ("test", "val", "train") if (volumes.split == s).any()]
    left, right = st.columns(2)
    names = [m.name for m in fitting]
    stored = fitting[names.index(left.selectbox("Volume model", names, key="ev_volume_model"))]
    split = right.selectbox(f"Split of {volumes.name}", splits, key="ev_volume_split")
    index = np.flatnonzero(volumes.split == split)
    predicted = _predicted(str(stored.path), stored.card.sha256, volumes.name, split, volumes)
    chosen = [volumes.volumes[i] for i in index]
    labelled = [k for k, v in enumerate(chosen) if v.labels is not None]
    metrics = volume_scores([chosen[k].labels for k in labelled], [predicted[k] for k in labelled],
                            [chosen[k].spacing for k in labelled], volumes.structures)
    rows = [{"structure": name, **{label: with_interval(values[f], values[f"{f}_ci"]) for f, label in FIGURES.items()}}
            for name, values in metrics["per_structure"].items()]
    st.dataframe(pd.DataFrame(rows).set_index("structure"), width="stretch")
    st.caption(f"{metrics['n']} labelled volumes of the {split} split · each figure per volume in millimetres (the "
               "voxel spacing), then averaged, with its 95% bootstrap interval over volumes (1,000 resamples, seed 0)")
    dice = [np.mean([2 * np.sum((chosen[k].labels == s) & (predicted[k] == s)) /
                     max(np.sum(chosen[k].labels == s) + np.sum(predicted[k] == s), 1)
                     for s in range(1, len(volumes.structures) + 1)]) for k in labelled]
    st.subheader("Its worst volumes")
    legend(volumes.structures)
    st.caption("Each at the axial slice where the model and the reference disagree most; left the reference, right "
               "the model.")
    for k in [labelled[j] for j in np.argsort(dice)[:WORST]]:
        volume, found = chosen[k], predicted[k]
        axial = int(np.argmax([(volume.labels[..., z] != found[..., z]).sum() for z in range(found.shape[2])]))
        low, high = np.percentile(volume.image, [0.5, 99.5])
        picture = enlarge(scale_to_uint8(volume.plane("axial", axial), float(low), float(high)), 192)
        pair = []
        for labels in (volume.labels, found):
            cut = np.flipud(labels[..., axial].T)
            big = np.kron(cut, np.ones((picture.shape[0] // cut.shape[0], picture.shape[1] // cut.shape[1]),
                                       np.uint8))
            pair.append(draw_label_map(picture, big))
        columns = st.columns(2)
        columns[0].image(pair[0], caption=f"{volume.id}: reference, axial {axial + 1}", width="stretch")
        columns[1].image(pair[1], caption=f"{volume.id}: {stored.name}, mean Dice {dice[labelled.index(k)]:.3f}",
                         width="stretch")
