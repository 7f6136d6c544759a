"""Built-in sample films: real ones committed in ``samples/`` (credited there), and synthetic ones written as DICOM
and read back through the real reader (no download)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from medlib.image import MedImage
from medlib.phantom import CLASS_NAMES, make_phantom
from medlib.phantom_export import dicom_bytes

SAMPLE_NAME = "built-in synthetic chest film (DICOM)"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
REAL_SAMPLES = {
    "normal": "IM-0141-0001.jpeg",
    "pneumonia": "person1001_bacteria_2932.jpeg",
}
"""Real pediatric films from the test split of chest_xray_224 (Kermany et al. 2018, CC BY 4.0): label → file."""
REAL_CREDIT = "real pediatric chest film, Kermany et al., Cell 2018 (CC BY 4.0); not seen in training"


@st.cache_resource
def sample_image(kind: str = "nodule") -> MedImage:
    """A 256×256 synthetic film of one class (normal, nodule or consolidation) as a DICOM image."""
    from medlib.readers import read_series

    film = make_phantom(3, size=256, seed=7).images[CLASS_NAMES.index(kind), ..., 0]
    return read_series([dicom_bytes(film, f"sample-{kind}")])


@st.cache_resource
def real_sample(label: str) -> MedImage:
    """One of the real sample films (:data:`REAL_SAMPLES`), read like an upload."""
    from medlib.readers import read_image

    return read_image(SAMPLES / REAL_SAMPLES[label])
