"""Built-in sample films, written as DICOM and read back through the real reader (no download)."""

from __future__ import annotations

import streamlit as st

from medlib.image import MedImage
from medlib.phantom import CLASS_NAMES, make_phantom
from medlib.phantom_export import dicom_bytes

SAMPLE_NAME = "built-in synthetic chest film (DICOM)"


@st.cache_resource
def sample_image(kind: str = "nodule") -> MedImage:
    """A 256×256 synthetic film of one class (normal, nodule or consolidation) as a DICOM image."""
    from medlib.readers import read_series

    film = make_phantom(3, size=256, seed=7).images[CLASS_NAMES.index(kind), ..., 0]
    return read_series([dicom_bytes(film, f"sample-{kind}")])
