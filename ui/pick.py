"""Picking the image a page works on: one from the active data set, or an uploaded file."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from medlib.datasets import SPLITS, Dataset
from medlib.errors import MedlibError
from medlib.input import read_image
from medlib.input.image import Window
from medlib.targets import Finding


@dataclass(frozen=True)
class Picked:
    """An image (H×W×C float32, values as read), its mask if any, the file's window and a label."""

    image: np.ndarray
    mask: np.ndarray | None
    window: Window | None
    label: str
    findings: tuple[Finding, ...] = ()
    named: bool = False
    """Whether the mask is a label map of several named structures (drawn in their colours)."""


def pick_from_dataset(dataset: Dataset, key: str) -> Picked:
    """A split and an index into it; the image's class (or its mask) comes along."""
    split_col, index_col = st.columns(2)
    splits = [s for s in SPLITS if dataset.indices(s).size]
    split = split_col.selectbox("Split", splits, key=f"{key}.split")
    positions = dataset.indices(split)
    number = index_col.number_input(f"Image (1–{positions.size})", 1, int(positions.size), 1, key=f"{key}.index")
    i = int(positions[int(number) - 1])
    name = dataset.class_names[int(dataset.labels[i])] if dataset.labels is not None else "with mask"
    mask = None if dataset.masks is None else dataset.masks[i]
    findings = tuple(dataset.findings[i]) if dataset.findings is not None else ()
    return Picked(dataset.images[i], mask, None, f"{dataset.ids[i]} · {name}", findings,
                  len(dataset.structures) > 1)


def pick_image(dataset: Dataset, key: str) -> Picked | None:
    """The image chosen with a radio: from the active data set or uploaded (first frame of the file)."""
    source = st.radio("Image", ["From the active data set", "Upload a file"], horizontal=True, key=f"{key}.source")
    if source == "From the active data set":
        return pick_from_dataset(dataset, key)
    upload = st.file_uploader("Image file", key=f"{key}.file",
                              help="DICOM, PNG, JPEG, TIFF, NIfTI, MetaImage .mha, .npy")
    if upload is None:
        st.info("Upload an image file to preview it.", icon=":material/info:")
        return None
    try:
        image = read_image(upload.getvalue(), name=upload.name)
    except MedlibError as exc:
        st.error(f"{upload.name}: {exc}", icon=":material/error:")
        return None
    return Picked(image.data[0], None, image.window, f"{upload.name} (frame 1)")
