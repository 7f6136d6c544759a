"""Diagnose: one image through a classifier and a lesion segmenter, with where the finding is (research use only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from medlib.diagnose import diagnose, draw_findings
from medlib.errors import MedlibError
from medlib.explain import METHOD_LABELS, METHODS, overlay
from medlib.image import MedImage
from medlib.phantom import CLASS_NAMES
from medlib.readers import read_series
from medlib.store import StoredModel, list_models
from medlib.visualize import enlarge
from medlib.windowing import to_display
from ui.models import loaded_model
from ui.samples import sample_image
from ui.window import window_controls

DEFAULTS = {"classify": "chest-classifier", "segment": "chest-lesions"}
NONE = "none"
UPLOAD_ID, IMAGE, ERROR = "dx_upload_id", "dx_image", "dx_error"


def _model_choice(models: list[StoredModel], task: str, label: str, column) -> StoredModel | None:
    names = [m.name for m in models if m.card.get("task") == task]
    options = [*names, NONE]
    default = options.index(DEFAULTS[task]) if DEFAULTS[task] in names else 0
    chosen = column.selectbox(label, options, index=default, key=f"dx_{task}")
    return next((m for m in models if m.name == chosen), None)


def _uploaded(files: list) -> MedImage | None:
    """The uploaded image, decoded once per upload; a bad file leaves a message and no image."""
    upload_id = tuple(f.file_id for f in files)
    if st.session_state.get(UPLOAD_ID) != upload_id:
        st.session_state[UPLOAD_ID] = upload_id
        st.session_state.pop(IMAGE, None)
        try:
            with st.spinner("Reading the file…"):
                st.session_state[IMAGE] = read_series([f.getvalue() for f in files], [f.name for f in files])
            st.session_state.pop(ERROR, None)
        except MedlibError as exc:
            st.session_state[ERROR] = f"{', '.join(f.name for f in files)}: {exc}"
    if message := st.session_state.get(ERROR):
        st.error(message, icon=":material/error:")
    return st.session_state.get(IMAGE)


def _image_choice() -> tuple[MedImage, str] | None:
    source = st.radio("Image", ["A built-in sample", "Upload a file"], horizontal=True, key="dx_source")
    if source == "A built-in sample":
        kind = st.selectbox("Sample (synthetic film, DICOM)", CLASS_NAMES, index=1, key="dx_sample")
        return sample_image(kind), f"built-in synthetic {kind} film"
    files = st.file_uploader("Image file(s)", accept_multiple_files=True, key="dx_files",
                             help="DICOM, PNG, JPEG, TIFF, NIfTI (a slice), .npy")  # fmt: skip
    if not files:
        st.info("Upload an image to diagnose it.", icon=":material/info:")
        return None
    image = _uploaded(files)
    return (image, files[0].name if len(files) == 1 else f"{len(files)} DICOM files") if image is not None else None


def _probabilities_chart(names: list[str], values: list[float]) -> go.Figure:
    figure = go.Figure(go.Bar(x=values, y=names, orientation="h", text=[f"{v:.1%}" for v in values],
                              textposition="auto", hovertemplate="%{y}: %{x:.2%}<extra></extra>"))  # fmt: skip
    figure.update_layout(height=60 + 40 * len(names), margin=dict(l=10, r=10, t=10, b=10))
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_yaxes(autorange="reversed")
    return figure


def _frame_as_model_sees(image: MedImage, frame: int) -> np.ndarray:
    """A frame for the models: gray images as H×W×1, colour as RGB (the models' preprocessing does the rest)."""
    data = image.frame(frame)
    return data if data.ndim == 3 else data[..., None]


st.title("Diagnose")
st.warning("**Research tool, not a medical device.** The default models learned from synthetic films; no result here "
           "may guide the care of a patient.", icon=":material/warning:")  # fmt: skip
models = list_models()
left, right = st.columns(2)
classifier_entry = _model_choice(models, "classify", "Classifier", left)
segmenter_entry = _model_choice(models, "segment", "Lesion segmenter", right)
if classifier_entry is None and segmenter_entry is None:
    st.info("Choose a classifier or a segmenter: the store has none yet; train one on the Training page.",
            icon=":material/info:")  # fmt: skip
    st.stop()
choice = _image_choice()
if choice is None:
    st.stop()
image, name = choice
view, controls = st.columns([3, 2])
with controls:
    window = window_controls(image, key="dx_window")
    frame = st.slider("Frame / slice", 1, image.frames, 1, key="dx_frame") - 1 if image.frames > 1 else 0
    method = st.selectbox("Heat map", METHODS, key="dx_method", format_func=METHOD_LABELS.get)
    opacity = st.slider("Lesion mask opacity", 0.0, 1.0, 0.35, 0.05, key="dx_opacity")
    heat_opacity = st.slider("Heat map opacity", 0.0, 1.0, 0.45, 0.05, key="dx_heat_opacity")
try:
    classifier = loaded_model(classifier_entry.path, classifier_entry.card["file"]["sha256"]) if classifier_entry \
        else None  # fmt: skip
    segmenter = loaded_model(segmenter_entry.path, segmenter_entry.card["file"]["sha256"]) if segmenter_entry \
        else None  # fmt: skip
    locks = [pair[1] for pair in (classifier, segmenter) if pair is not None]
    for lock in locks:
        lock.acquire()
    try:
        result = diagnose(_frame_as_model_sees(image, frame), classifier[0] if classifier else None,
                          segmenter[0] if segmenter else None, image.spacing, method)  # fmt: skip
    finally:
        for lock in locks:
            lock.release()
except MedlibError as exc:
    st.error(f"{name}: {exc}", icon=":material/error:")
    st.stop()

display = to_display(image, frame, window)
with view:
    if result.probabilities:
        st.subheader(f"{result.predicted} · {max(result.probabilities):.1%}")
        st.caption(f"by {classifier_entry.name}; probability of every class:")
        st.plotly_chart(_probabilities_chart(result.class_names, result.probabilities), key="dx_probabilities")
    pictures, captions = [], []
    if result.heat is not None and not result.heat_on_input:
        pictures.append(overlay(display, result.heat, heat_opacity))
        captions.append(f"{METHOD_LABELS[method]}: where the evidence for "
                        f"{result.predicted} lies")  # fmt: skip
    if result.lesion_probability is not None and not result.lesions_on_input:
        pictures.append(draw_findings(display, result, opacity))
        captions.append(f"lesions found by {segmenter_entry.name}: outline and numbered boxes")
    if not pictures:
        pictures, captions = [display], [name]
    for column, picture, caption in zip(st.columns(len(pictures)), pictures, captions, strict=True):
        column.image(enlarge(picture, 320), caption=caption, width="stretch")
    for note in result.notes:
        st.caption(f"• {note}")
    st.caption(f"{name} · frame {frame + 1}/{image.frames} · window {window.center:.4g}/{window.width:.4g} · "
               f"models answered in {result.seconds * 1000:.0f} ms")  # fmt: skip
if segmenter_entry is not None:
    st.subheader(f"Lesions ({len(result.lesions)})")
    if result.lesions:
        table = pd.DataFrame(result.lesions)
        table["box (x0, y0, x1, y1)"] = table.pop("box").map(lambda b: ", ".join(map(str, b)))
        table["centre (x, y)"] = table.pop("centre").map(lambda c: f"{c[0]:.0f}, {c[1]:.0f}")
        st.table(table.set_index("lesion"))
        if image.spacing is None:
            st.caption("Areas in pixels: the file gives no pixel spacing.")
    else:
        st.caption("No lesion above the 0.5 probability threshold.")
with st.expander("Image facts (de-identified: technical tags only)"):
    st.table(pd.DataFrame([{"tag": k, "value": str(v)} for k, v in image.metadata.items()] or
                          [{"tag": "—", "value": "none"}]).set_index("tag"))  # fmt: skip
    for entry in (classifier_entry, segmenter_entry):
        if entry is not None:
            st.caption(f"{entry.name}: {entry.card.get('intended_use', 'research only')}")
