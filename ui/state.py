"""Every session-state key of the app, in one place, with typed accessors.

Session state is per browser session: one user's data set or upload is never
seen by another.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from medlib.augment import Augmenter, load_augmenter
from medlib.datasets import Dataset, VolumeSet
from medlib.datasets.phantom import make_phantom
from medlib.limits import limit
from medlib.preprocessing.pipeline import Pipeline, load_pipeline
from medlib.training.recipe import dataset_defaults

ACTIVE_DATASET = "active_dataset"
ACTIVE_MODEL = "active_model"
DATASET_UPLOAD_ID = "dataset_upload_id"
DATASET_ERROR = "dataset_error"
IMAGE_UPLOAD_ID = "image_upload_id"
IMAGE = "image"
IMAGE_NAME = "image_name"
IMAGE_ERROR = "image_error"
ACTIVE_PREPROCESS = "active_preprocess"
ACTIVE_AUGMENT = "active_augment"
VOLUMES = "volume_set"  # the 3-D set uploaded last (shown on the Upload page; the 2-D pages keep the active set)
DATASET_FOLLOWED = "dataset_followed"  # the data set the Upload page made active (to notice one made elsewhere)
PREPROCESS_EDITOR, AUGMENT_EDITOR = "preprocess_editor", "augment_editor"  # the spec editors' step lists
AUGMENT_SEED = "aug_seed"  # the Augmentation page's draw (a widget its "new draw" button moves on)
DIAGNOSE_UPLOAD_ID, DIAGNOSE_UPLOADS = "dx_upload_id", "dx_uploads"  # the Diagnose page's files, read once
DIAGNOSE_GENERATION = "dx_upload_generation"  # a new image picker for each new upload
DIAGNOSE_FILES = "dx_answer_files"  # the answer's files prepared for download, and what they were written from
THRESHOLD, THRESHOLD_OF = "ev_threshold", "ev_threshold_of"  # the Evaluation page's threshold, and whose it is
TRAINING_JOB, JOB_ACKNOWLEDGED = "tr_job", "tr_acknowledged"  # the run watched, and the last one whose end was seen
WORKSPACE = "workspace"  # the private folder of this session (medlib.store.workspace.Workspace)
SITE_FIT = "ev_site_fit"  # the Evaluation page's last site recalibration: what changed, and the model it saved
STUDIO_SEED, STUDIO_CURVE = "ns_seed", "ns_curve"  # the Nodule studio's draw, and its last detectability curve
PACS_STUDIES, PACS_OPENED = "dx_pacs_studies", "dx_pacs_opened"  # the last PACS search, and the study opened
TRAIN_NODULES = "tr_nodules"  # the simulated nodules the Augmentation page handed to training (folder, share)
ANNOTATE_INDEX = "an_index"  # the Annotate page's image number (a widget its previous and next buttons move)
ANNOTATE_UPLOAD_ID, ANNOTATE_UPLOADS = "an_upload_id", "an_uploads"  # the Annotate page's files, read once
ANNOTATE_START = "an_start"  # by canvas: the drawing it opened with (it stays the same while that canvas lives)
ANNOTATE_GENERATION = "an_generation"  # by image: how often its labels were started again from the models
ANNOTATE_SAVED = "an_saved"  # what the last save wrote (shown after the rerun it makes)
ANNOTATE_RUN = "an_run"  # the last run the Annotate page began on a labelled set, and its before and after figures
ANNOTATE_DICOM = "an_dicom_files"  # the DICOM SEG and SR last prepared of an image's saved labels, and of which save
ANNOTATE_GO_TO = "an_go_to"  # the image number "Save and next" moves to, on the rerun after the save

KEYS = frozenset(value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str))
"""Every key above: the only ones a page keeps a value under (:func:`remember`)."""

#: The built-in data set a new session starts with.
DEFAULT_PHANTOM = {"n": 300, "size": 128, "seed": 0}


def remember(key: str, value: Any) -> None:
    """Keep ``value`` for this session under ``key``, one of :data:`KEYS`: the way pages write session state."""
    if key not in KEYS:
        raise KeyError(f"{key!r} is not a session-state key of ui.state; declare it there first")
    st.session_state[key] = value


def forget(key: str) -> None:
    """Drop the value kept under ``key`` (one of :data:`KEYS`), if any."""
    if key not in KEYS:
        raise KeyError(f"{key!r} is not a session-state key of ui.state; declare it there first")
    st.session_state.pop(key, None)


@st.cache_resource(max_entries=limit("max_cached_phantoms"), show_spinner="Generating the synthetic chest films…")
def phantom(n: int, size: int, seed: int) -> Dataset:
    """The synthetic set, shared read-only by every session (it holds no user data)."""
    return make_phantom(n=n, size=size, seed=seed)


def active_dataset() -> Dataset:
    """The data set the pages work on; the built-in phantom until the user picks another."""
    if ACTIVE_DATASET not in st.session_state:
        st.session_state[ACTIVE_DATASET] = phantom(**DEFAULT_PHANTOM)
    return st.session_state[ACTIVE_DATASET]


def volume_set() -> VolumeSet | None:
    """The 3-D set the Upload page shows, if the last data set uploaded was one."""
    return st.session_state.get(VOLUMES)


def set_volume_set(volumes: VolumeSet | None) -> None:
    """Show ``volumes`` on the Upload page (None: show the active 2-D set again)."""
    if volumes is None:
        st.session_state.pop(VOLUMES, None)
    else:
        st.session_state[VOLUMES] = volumes


def set_active_dataset(dataset: Dataset) -> list[str]:
    """Make ``dataset`` active; the preprocessing and augmentation follow it unless the user changed them.

    Returns what followed (for the page to say so).
    """
    previous = st.session_state.get(ACTIVE_DATASET)
    st.session_state[ACTIVE_DATASET] = dataset
    set_volume_set(None)
    followed = []
    for key, default, what in ((ACTIVE_PREPROCESS, dataset_default_pipeline, "preprocessing"),
                               (ACTIVE_AUGMENT, dataset_default_augmenter, "augmentation")):
        current = st.session_state.get(key)
        if current is None or previous is None or current == default(previous).to_dict():
            st.session_state[key] = default(dataset).to_dict()
            followed.append(what)
    return followed


@st.cache_data(max_entries=16, show_spinner="Deriving the default recipe from the data…")
def _defaults(content: str, _dataset: Dataset) -> tuple[dict, dict]:
    """The derived preprocessing and augmentation of the data set whose content fingerprint is ``content``."""
    pipeline, augmenter = dataset_defaults(_dataset)
    return pipeline.to_dict(), augmenter.to_dict()


def dataset_default_pipeline(dataset: Dataset) -> Pipeline:
    """The default preprocessing for a data set: the training recipe's, derived from the data."""
    return load_pipeline(_defaults(dataset.fingerprint, dataset)[0])


def dataset_default_augmenter(dataset: Dataset) -> Augmenter:
    """The default augmentation for a data set: the training recipe's, from the data's kind."""
    return load_augmenter(_defaults(dataset.fingerprint, dataset)[1])


def active_pipeline() -> Pipeline:
    """The preprocessing used for training and inference (JSON in session state)."""
    if ACTIVE_PREPROCESS not in st.session_state:
        st.session_state[ACTIVE_PREPROCESS] = dataset_default_pipeline(active_dataset()).to_dict()
    return load_pipeline(st.session_state[ACTIVE_PREPROCESS])


def set_active_pipeline(pipeline: Pipeline) -> None:
    st.session_state[ACTIVE_PREPROCESS] = pipeline.to_dict()


def active_augmenter() -> Augmenter:
    """The augmentation used for training (JSON in session state)."""
    if ACTIVE_AUGMENT not in st.session_state:
        st.session_state[ACTIVE_AUGMENT] = dataset_default_augmenter(active_dataset()).to_dict()
    return load_augmenter(st.session_state[ACTIVE_AUGMENT])


def set_active_augmenter(augmenter: Augmenter) -> None:
    st.session_state[ACTIVE_AUGMENT] = augmenter.to_dict()


def active_model() -> str | None:
    """The name of the active model in the store, if one was chosen."""
    return st.session_state.get(ACTIVE_MODEL)
