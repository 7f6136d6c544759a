"""The Preprocessing and Augmentation pages for the 3-D set the Upload page loaded: a volume in three planes before and
after the 3-D recipe's preprocessing (resampled to its spacing, normalised, padded to its patch grid), and the patch a
seeded draw of its 3-D augmentation gives training. The recipe is the one a run plans from the same training volumes,
and the draw the one it makes (:func:`medlib.training.volumes.augment_patch`): what you see is what the model gets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from medlib.datasets.volumes import Volume, VolumeSet
from medlib.errors import MedlibError
from medlib.preprocessing.volumes import VolumeSteps
from medlib.training.volumes import augment_patch, plan_volumes, volume_draw
from ui.legend import legend
from ui.planes import three_planes


def previews_volumes(volumes: VolumeSet | None, images: str, key: str) -> bool:
    """Whether the page previews the 3-D set (a choice shown only where one is loaded) rather than the images of the
    active data set, named ``images``."""
    if volumes is None:
        return False
    choice = st.radio("Preview", [f"Volumes: {volumes.name}", f"Images: {images}"], horizontal=True, key=key,
                      help="the 3-D set loaded on the Upload page has its own recipe, planned from its volumes")
    return choice.startswith("Volumes")


def recipe_table(choices: dict) -> None:
    """The 3-D recipe's choices, each with its reason."""
    st.dataframe(pd.DataFrame([{"setting": name, "value": str(c.value), "why": c.reason}
                               for name, c in choices.items()]), hide_index=True, width="stretch")


def _plan(volumes: VolumeSet) -> tuple[VolumeSteps, dict] | None:
    try:
        return plan_volumes(volumes, np.flatnonzero(volumes.split == "train"))
    except MedlibError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def _pick(volumes: VolumeSet, key: str) -> int:
    ids = volumes.ids
    return st.selectbox("Volume", range(len(ids)), format_func=ids.__getitem__, key=key)


def _on_grid(name: str, image: np.ndarray, labels: np.ndarray | None, spacing: tuple[float, ...]) -> Volume:
    """An array on the recipe's grid as a volume to show (its voxels at ``spacing``)."""
    return Volume(name, image, np.diag([*spacing, 1.0]), labels)


def _describe(volume: Volume) -> str:
    image = volume.image
    return (f"{' × '.join(map(str, image.shape))} voxels of {' × '.join(f'{s:.3g}' for s in volume.spacing)} mm, "
            f"values {float(image.min()):.3g} … {float(image.max()):.3g} (mean {float(image.mean()):.3g})")


def volume_preprocess_preview(volumes: VolumeSet) -> None:
    """One volume of ``volumes`` before and after the 3-D recipe's preprocessing, in three planes each."""
    planned = _plan(volumes)
    if planned is None:
        return
    steps, choices = planned
    with st.expander("The 3-D recipe (derived from the training volumes)", expanded=False):
        recipe_table(choices)
    volume = volumes.volumes[_pick(volumes, "pp_volume")]
    legend(volumes.structures)
    st.markdown(f"**Before**: {volume.id}, {_describe(volume)}")
    three_planes(volume, "pp_volume_before")
    prepared = steps.prepare(volume.image, volume.spacing, volume.labels)
    after = _on_grid(f"{volume.id} prepared", prepared.image[..., 0], prepared.labels, steps.spacing)
    st.markdown(f"**After** (what the network takes): {_describe(after)}; {steps.normalisation.upper()} "
                f"normalisation, padded to a multiple of the {' × '.join(map(str, steps.patch))} patch")
    three_planes(after, "pp_volume_after")


def volume_augment_preview(volumes: VolumeSet) -> None:
    """A prepared volume of ``volumes`` and the patch one seeded draw of the 3-D augmentation cuts from it."""
    planned = _plan(volumes)
    if planned is None:
        return
    steps, _ = planned
    left, middle, right = st.columns(3)
    with left:
        index = _pick(volumes, "au_volume")
    seed = middle.number_input("Seed", 0, 2**31 - 1, 0, key="au_volume_seed")
    epoch = right.number_input("Epoch", 1, 10_000, 1, key="au_volume_epoch")
    volume = volumes.volumes[index]
    prepared = steps.prepare(volume.image, volume.spacing, volume.labels)
    shown = _on_grid(volume.id, prepared.image[..., 0], prepared.labels, steps.spacing)
    st.caption("Mirrors along each axis (each with probability 0.5), one turn up to 15° with a scale of 0.85–1.15 "
               "(0.2), brightness (0.15) and gamma (0.15), drawn per volume, epoch and seed as training draws them.")
    legend(volumes.structures)
    st.markdown(f"**Prepared**: {volume.id}, {_describe(shown)}")
    three_planes(shown, "au_volume_before")
    image, labels = augment_patch(prepared, steps.patch, volume_draw(int(seed), int(epoch) - 1, index))
    patch = _on_grid(f"{volume.id} augmented", image[..., 0], labels, steps.spacing)
    st.markdown(f"**The patch training draws** in epoch {int(epoch)} with seed {int(seed)}: {_describe(patch)}")
    three_planes(patch, "au_volume_after")
