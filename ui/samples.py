"""Built-in sample films: real ones committed in ``samples/`` (credited there), and synthetic ones written as DICOM
and read back through the real reader (no download)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from medlib.datasets.phantom import CLASS_NAMES, make_phantom
from medlib.datasets.phantom_export import dicom_bytes
from medlib.input.image import MedImage

SAMPLE_NAME = "built-in synthetic chest film (DICOM)"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
KERMANY = "real pediatric chest film, Kermany et al., Cell 2018 (CC BY 4.0); not seen in training"
JSRT = ("real adult chest film, JSRT database (Shiraishi et al., AJR 2000), 1.6 mm a pixel; not seen in training")
REAL_SAMPLES = {
    "normal (child)": ("IM-0141-0001.jpeg", KERMANY, None),
    "pneumonia (child)": ("person1001_bacteria_2932.jpeg", KERMANY, None),
    "lung nodule (adult)": ("JPCLN012.png", JSRT, (1.6, 1.6)),
    "normal (adult)": ("JPCNN004.png", JSRT, (1.6, 1.6)),
}
"""Real films from the test splits of chest_xray_224 and jsrt (see samples/README.md): label → (file, credit, pixel
spacing in mm where the file does not carry it)."""


@st.cache_resource
def sample_image(kind: str = "nodule") -> MedImage:
    """A 256×256 synthetic film of one class (normal, nodule or consolidation) as a DICOM image."""
    from medlib.input import read_series

    film = make_phantom(3, size=256, seed=7).images[CLASS_NAMES.index(kind), ..., 0]
    return read_series([dicom_bytes(film, f"sample-{kind}")])


@st.cache_resource
def real_sample(label: str) -> MedImage:
    """One of the real sample films (:data:`REAL_SAMPLES`), read like an upload, with its pixel spacing."""
    from medlib.input import read_image

    name, _, spacing = REAL_SAMPLES[label]
    image = read_image(SAMPLES / name)
    image.spacing = spacing or image.spacing
    return image


def real_sample_caption(label: str) -> str:
    name, credit, _ = REAL_SAMPLES[label]
    return f"{name} ({credit})"
