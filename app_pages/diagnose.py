"""Diagnose: one image through a classifier and a segmenter, with where the finding is (research use only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from medlib.answers.diagnose import diagnose
from medlib.answers.diagnosis import Diagnosis
from medlib.answers.files import answer_cards, file_stem
from medlib.answers.picture import diagnosis_picture
from medlib.datasets.phantom import CLASS_NAMES
from medlib.display.windowing import to_display
from medlib.errors import MedlibError
from medlib.input import Upload, read_uploads
from medlib.input.image import MedImage, Window
from medlib.models.heatmaps import METHOD_LABELS, METHODS
from medlib.store.folders import StoredModel
from ui import state
from ui.answer_downloads import answer_downloads
from ui.answers import anatomy_panel, candidates_panel, decision_caption
from ui.model_choice import age_model, model_choice
from ui.models import heavy_work, models_in_use
from ui.pacs_panel import configured, pacs_image_choice, send_panel
from ui.samples import REAL_SAMPLES, real_sample, real_sample_caption, sample_image
from ui.sidebar import privacy_notice
from ui.viewer import CONFIG, diagnosis_figure, image_figure
from ui.volume_answer import volume_answer
from ui.window import window_controls
from ui.workspace import shelf

REAL, SYNTHETIC, UPLOAD, PACS = "A real sample film", "A synthetic sample film", "Upload files", "From the PACS"
#: The long side, in pixels, of what the page works on and shows: a screen shows no more of a full-size film.
SCREEN_SIDE = 1280


def _uploads(files: list) -> list[Upload]:
    """The uploaded files as images (each file, or the DICOM files of one series), read once per upload; a new
    upload becomes the chosen image."""
    upload_id = tuple(f.file_id for f in files)
    if st.session_state.get(state.DIAGNOSE_UPLOAD_ID) != upload_id:
        # A still line, not st.spinner: a spinning one costs each waiting browser about 0.14 s of CPU a second
        # where it draws without a GPU, and under load a visitor may wait here for a turn.
        reading = st.empty()
        reading.caption(":material/hourglass_top: Reading the files…")
        with heavy_work():
            uploads = read_uploads([f.getvalue() for f in files], [f.name for f in files], reduce_to=SCREEN_SIDE)
            state.remember(state.DIAGNOSE_UPLOADS, uploads)
        reading.empty()
        state.remember(state.DIAGNOSE_UPLOAD_ID, upload_id)
        # a new picker, on the newest image
        state.remember(state.DIAGNOSE_GENERATION, st.session_state.get(state.DIAGNOSE_GENERATION, 0) + 1)
    return st.session_state[state.DIAGNOSE_UPLOADS]


def _image_choice() -> tuple[MedImage, str, str] | None:
    """The image, its name, and whether it is a real film or a synthetic one (which picks the default models)."""
    pacs = configured()
    source = st.radio("Image", [REAL, SYNTHETIC, UPLOAD] + ([PACS] if pacs is not None else []), horizontal=True,
                      key="dx_source")
    if source == PACS and pacs is not None:
        return pacs_image_choice(pacs)
    if source == REAL:
        label = st.selectbox("Sample", list(REAL_SAMPLES), key="dx_real_sample")
        return real_sample(label), real_sample_caption(label), "real"
    if source == SYNTHETIC:
        kind = st.selectbox("Sample (synthetic film, DICOM)", CLASS_NAMES, index=1, key="dx_sample")
        return sample_image(kind), f"built-in synthetic {kind} film", "synthetic"
    files = st.file_uploader("Image file(s)", accept_multiple_files=True, key="dx_files",
                             help="DICOM, PNG, JPEG, TIFF, NIfTI (a volume goes to a volume model), .npy. Each file is "
                                  "an image of its "
                                  "own; the DICOM files of one series make one image.")
    if not files:
        st.info("Upload an image to diagnose it.", icon=":material/info:")
        return None
    uploads = _uploads(files)
    for failed in (u for u in uploads if u.error):
        st.error(failed.error, icon=":material/error:")
    readable = [u for u in uploads if u.image is not None]
    if not readable:
        return None
    if len(readable) == 1:  # nothing to choose from
        return readable[0].image, readable[0].name, "real"
    names = [u.name for u in readable]
    picker = f"dx_upload_pick.{st.session_state[state.DIAGNOSE_GENERATION]}"
    chosen = st.selectbox("Uploaded image", range(len(readable)), index=len(readable) - 1, key=picker,
                          format_func=names.__getitem__,
                          help="a new upload is chosen as it arrives")
    return readable[chosen].image, names[chosen], "real"


def _probabilities(names: list[str], values: list[float]) -> None:
    """One bar per class with its probability: Streamlit's own bars, which a browser draws in a few milliseconds
    (a plotly chart costs each new visitor's browser about 0.8 s of CPU to load and draw, for two bars)."""
    for name, value in zip(names, values, strict=True):
        st.progress(min(max(value, 0.0), 1.0), text=f"{name}: {value:.1%}")


def _frame_as_model_sees(image: MedImage, frame: int) -> np.ndarray:
    """A frame for the models: gray images as H×W×1, colour as RGB (the models' preprocessing does the rest)."""
    data = image.frame(frame)
    return data if data.ndim == 3 else data[..., None]


def _findings_table(result: Diagnosis) -> pd.DataFrame:
    """One row per finding, its box and centre written out."""
    table = pd.DataFrame(result.lesions)
    table["box (x0, y0, x1, y1)"] = table.pop("box").map(lambda b: ", ".join(map(str, b)))
    table["centre (x, y)"] = table.pop("centre").map(lambda c: f"{c[0]:.0f}, {c[1]:.0f}")
    return table.set_index("finding")


def _gate_message(result: Diagnosis) -> None:
    gate = result.gate
    if gate.in_distribution:
        if gate.signals:
            st.caption(f"The image looks like the films the models learned from (out-of-distribution score "
                       f"{gate.score:.2f}; 1 and above is outside).")
        return
    score = f" Out-of-distribution score {gate.score:.2f} (1 and above is outside)." if np.isfinite(gate.score) else ""
    st.error("**This image is outside what the models were trained on**, so their answers are no finding: "
             + "; ".join(gate.reasons) + f".{score} The models learned from frontal chest films.",
             icon=":material/block:")


def _threshold_key(locator: StoredModel) -> str:
    return f"dx_candidates.{locator.name}"


def _threshold_slider(locator: StoredModel, own: float) -> float:
    """The candidate threshold, starting at the locating model's own."""
    return st.slider("Candidate threshold", 0.0, 1.0, own, 0.01, key=_threshold_key(locator),
                     help=f"show the candidates scoring at least this much; {locator.name}'s own threshold, chosen "
                          f"on validation films, is {own:.2f}")


def _run_models(image: MedImage, frame: int, window: Window, method: str, opacities: tuple[float, float],
                entries: tuple[StoredModel | None, StoredModel | None, StoredModel | None], threshold: float | None
                ) -> tuple[Diagnosis, np.ndarray, np.ndarray, pd.DataFrame | None, str]:
    """The diagnosis, its picture (heat map and outlines at ``opacities``, the candidates called at ``threshold``),
    the image as shown, its findings table and what the segmenter outlines, in one turn of the server's heavy work:
    all of it is ready before any of it is shown, so the result reaches the browser at once (each part sent apart
    is another redraw of the page there)."""
    segmenter_entry = entries[1]
    with models_in_use(*entries, age_model(shelf().models(), *entries)) as (classifier, segmenter, locator, ager):
        result = diagnose(_frame_as_model_sees(image, frame), classifier, segmenter, image.spacing, method,
                          metadata=image.metadata, work_side=SCREEN_SIDE, source_size=image.source_size,
                          locator=locator, candidate_threshold=threshold, age_model=ager)
        display = to_display(image, frame, window, max_side=SCREEN_SIDE)
        picture = diagnosis_picture(display, result, *opacities) if result.gate.in_distribution \
            else display
        findings = _findings_table(result) if segmenter_entry is not None and result.lesions else None
    return result, picture, display, findings, segmenter.target if segmenter else "finding"


@st.fragment
def _diagnosis() -> None:
    """The image, the models and their answer. A fragment: an upload or a new setting reruns this part alone, and
    the page's head and the sidebar stay as they are drawn, in the server and in the browser."""
    choice = _image_choice()
    models = shelf().models()
    if choice is not None and choice[0].dimensions == 3:  # a volume: the volume models answer
        volume_answer(choice[0], choice[1], models)
        return
    left, middle, right = st.columns(3)
    kind = choice[2] if choice is not None else "real"
    classifier_entry = model_choice(models, "classifier", kind, "Classifier", left, "dx")
    segmenter_entry = model_choice(models, "segmenter", kind, "Segmenter (anatomy or lesions)", middle, "dx")
    locator_entry = model_choice(models, "locator", kind, "Nodules (located findings)", right, "dx")
    if classifier_entry is None and segmenter_entry is None and locator_entry is None:
        st.info("Choose a model: the store has none yet; train one on the Training page.", icon=":material/info:")
        return
    if choice is None:
        return
    image, name, _ = choice
    view, side = st.columns([3, 2])
    with side.container(horizontal=True):
        with st.container():
            window = window_controls(image, key="dx_window")
        # in a popover: a browser draws its widgets only when it is opened, not on each new result
        with st.popover("Picture settings", icon=":material/tune:"):
            frame = st.slider("Frame / slice", 1, image.frames, 1, key="dx_frame") - 1 if image.frames > 1 else 0
            method = st.selectbox("Heat map", METHODS, key="dx_method", format_func=METHOD_LABELS.get)
            opacity = st.slider("Outline fill opacity", 0.0, 1.0, 0.35, 0.05, key="dx_opacity")
            heat_opacity = st.slider("Heat map opacity", 0.0, 1.0, 0.45, 0.05, key="dx_heat_opacity")
    slider_place = side.container()  # the candidate threshold, drawn once the image is known to be answered
    threshold = None
    if locator_entry is not None:
        own = round(locator_entry.card.threshold_value, 2)
        # the value its slider holds (the one it will show): the answer, the table and the files are made with it
        threshold = st.session_state.get(_threshold_key(locator_entry), own)
    try:
        result, picture, display, findings, target = _run_models(image, frame, window, method, (heat_opacity, opacity),
                                                        (classifier_entry, segmenter_entry, locator_entry), threshold)
    except MedlibError as exc:
        st.error(f"{name}: {exc}", icon=":material/error:")
        return
    if locator_entry is not None and result.gate.in_distribution:
        with slider_place:
            _threshold_slider(locator_entry, own)
    with view:
        _gate_message(result)
        if result.probabilities and result.predicted is not None:
            st.subheader(result.predicted)
            st.caption(decision_caption(result, classifier_entry))
            _probabilities(result.class_names, result.probabilities)
        elif result.probabilities:
            why = "the image is out of distribution" if not result.gate.in_distribution else \
                result.population["classifier"].reason
            if result.gate.in_distribution:
                st.warning(f"**{classifier_entry.name} gives no finding here**: {why}.", icon=":material/group_off:")
            shown = why if not result.gate.in_distribution else "see above"
            with st.expander(f"What {classifier_entry.name} would say of it (not a finding: {shown})"):
                _probabilities(result.class_names, result.probabilities)
        caption = name
        if result.gate.in_distribution:
            parts = ([f"{METHOD_LABELS[method]}: where the evidence for {result.predicted} lies"]
                     if result.heat is not None and not result.heat_on_input else [])
            if result.lesion_probability is not None and not result.lesions_on_input:
                parts.append(f"{target} outlines by {segmenter_entry.name}, numbered")
            if result.structures:
                parts.append(f"{', '.join(result.structures)} outlined by {segmenter_entry.name}")
            if result.called():
                parts.append(f"candidates by {locator_entry.name}, numbered (their scores in the table and on hover)")
            caption = "; ".join(parts) or name
        figure = diagnosis_figure(display, result, f"heat map ({METHOD_LABELS[method]})", target,
                                  locator_entry.card.finding or "finding" if locator_entry else "finding",
                                  heat_opacity, opacity) if result.gate.in_distribution else \
            image_figure(display, (image.height, image.width))
        st.plotly_chart(figure, config=CONFIG, key="dx_viewer")
        facts = [caption, *(f"• {note}" for note in result.notes)]
        if image.source_size is not None:
            facts.append(f"• The file's {image.source_size[1]}×{image.source_size[0]} pixels were decoded at "
                         f"{image.width}×{image.height}, still more than a screen shows; positions and areas are in "
                         "the file's pixels.")
        facts.append(f"{name} · frame {frame + 1}/{image.frames} · window {window.center:.4g}/{window.width:.4g} · "
                     f"models answered in {result.seconds * 1000:.0f} ms")
        st.caption("  \n".join(facts))  # one element: each is a part of the page the browser draws again on a rerun
    if locator_entry is not None and result.gate.in_distribution:
        with side:
            candidates_panel(result, locator_entry, image.spacing is not None)
    if result.structures and result.gate.in_distribution:
        with side:
            anatomy_panel(result, segmenter_entry)
    elif segmenter_entry is not None and result.gate.in_distribution:
        with side:
            st.subheader(f"{target.capitalize()}s found ({len(result.lesions)})")
            if findings is not None:
                st.table(findings, hide_index=False)  # the numbers drawn on the picture
                if image.spacing is None:
                    st.caption("Areas in pixels: the file gives no pixel spacing.")
            else:
                st.caption(f"No {target} above the 0.5 probability threshold.")
    cards = answer_cards(classifier_entry, segmenter_entry, locator_entry)
    answer_downloads(file_stem(name), image, result, cards, picture, display)
    send_panel(file_stem(name), image, result, cards, picture, display)
    with st.expander("Image facts (de-identified: technical tags only)"):
        st.table(pd.DataFrame([{"tag": k, "value": str(v)} for k, v in image.metadata.items()] or
                              [{"tag": "—", "value": "none"}]).set_index("tag"))
        for card in cards.values():
            st.caption(f"{card.name}: {card.intended_use}")


st.title("Diagnose")
st.warning("**Research tool, not a medical device.** The real-film pneumonia model learned from pediatric chest films "
           "of one hospital (Kermany et al. 2018); the nodule model from 187 adult films of one Japanese database "
           "(JSRT, 1998), the anatomy model from those and 59 adult films of a Chinese hospital (Shenzhen); the "
           "synthetic films are a demonstration. No result here may guide the care of a patient.",
           icon=":material/warning:")
privacy_notice()
_diagnosis()
