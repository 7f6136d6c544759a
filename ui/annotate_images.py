"""The images the Annotate page labels: those of the active data set, uploaded files or a study of the PACS (read
at their full size, so that the saved labels map onto the original pixels), one slice at a time for a volume."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from medlib.datasets.dataset import Dataset
from medlib.input import read_uploads
from medlib.input.image import MedImage
from medlib.targets import ONE_STRUCTURE
from ui import state
from ui.models import heavy_work
from ui.pacs_panel import configured, pacs_image_choice

ACTIVE, UPLOAD, PACS = "The active data set", "Upload files", "From the PACS"


@dataclass
class Images:
    """The images to label, by name; ``open(i)`` reads image ``i``. What the source already says of its images:
    the structures it outlines, its classes and the name of its located findings."""

    source: str
    """Where they come from: the data set's name, ``uploads`` or ``pacs``."""
    names: list[str]
    open: Callable[[int], MedImage]
    kind: str
    """``real`` or ``synthetic`` (which models the page starts on)."""
    structures: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    finding: str = ""
    errors: list[str] = field(default_factory=list)


def _from_dataset(dataset: Dataset) -> Images:
    def read(i: int) -> MedImage:
        return MedImage(np.asarray(dataset.images[i], np.float32)[None], format="data set", spacing=dataset.spacing)

    named = [s for s in dataset.structures if s != ONE_STRUCTURE] if dataset.masks is not None else []
    return Images(dataset.name, list(dataset.ids), read, "synthetic" if dataset.synthetic else "real", named,
                  list(dataset.class_names) if dataset.labels is not None else [],
                  next(iter(dataset.finding_labels()), ""))


def _uploaded(files: list) -> Images:
    upload_id = tuple(f.file_id for f in files)
    if st.session_state.get(state.ANNOTATE_UPLOAD_ID) != upload_id:
        with heavy_work(), st.spinner("Reading the files…"):
            state.remember(state.ANNOTATE_UPLOADS, read_uploads([f.getvalue() for f in files], [f.name for f in files]))
        state.remember(state.ANNOTATE_UPLOAD_ID, upload_id)
    uploads = st.session_state[state.ANNOTATE_UPLOADS]
    readable = [u for u in uploads if u.image is not None]
    return Images("uploads", [u.name for u in readable], lambda i: readable[i].image, "real",
                  errors=[u.error for u in uploads if u.error])


def image_source(dataset: Dataset) -> Images | None:
    """The images the user picks: the active data set's, the files they upload, or a study of the PACS where the
    server has one (``None`` until there is an image)."""
    pacs = configured()
    source = st.radio("Images", [ACTIVE, UPLOAD] + ([PACS] if pacs is not None else []), horizontal=True,
                      key="an_source",
                      help=f"the active data set is {dataset.name} (choose another on the Upload page)")
    if source == ACTIVE:
        return _from_dataset(dataset)
    if source == PACS and pacs is not None:
        chosen = pacs_image_choice(pacs, reduce_to=None)  # every pixel: the labels map onto the file's own
        if chosen is None:
            return None
        image, name, _ = chosen
        instance = image.references.instance_uids[0] if image.references is not None else ""
        return Images("pacs", [f"{name} {instance[-12:]}".strip()], lambda _: image, "real")  # one name per image
    files = st.file_uploader("Image file(s)", accept_multiple_files=True, key="an_files",
                             help="DICOM, PNG, JPEG, TIFF, NIfTI, MetaImage: each file an image (a volume's slices "
                                  "one by one); labels are saved at the file's own size")
    if not files:
        st.info("Upload the images to label.", icon=":material/info:")
        return None
    images = _uploaded(files)
    for error in images.errors:
        st.error(error, icon=":material/error:")
    return images if images.names else None
