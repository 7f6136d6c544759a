"""Nodule studio: put a nodule of a chosen size and contrast on a film, see whether the detector finds it, and at what
size it starts to find nodules (research and teaching use only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from medlib.answers.studio import trial_picture, try_nodule
from medlib.datasets.nodule_sets import film_spacing, lung_fields, normal_films
from medlib.datasets.nodules import generated_nodule
from medlib.display.drawing import enlarge
from medlib.display.windowing import to_display
from medlib.errors import MedlibError
from medlib.input import read_image
from medlib.input.image import MedImage
from medlib.scoring.detectability import DIAMETERS, detectability
from ui import state
from ui.models import heavy_work, loaded_entry
from ui.nodule_sources import ANATOMY, GENERATED, lungs_of, nodules_from, server_data, sources
from ui.samples import REAL_SAMPLES, real_sample, real_sample_caption
from ui.sidebar import privacy_notice
from ui.workspace import shelf

FILMS = ("normal (adult)", "lung nodule (adult)")


def _film() -> tuple[str, np.ndarray, float, str] | None:
    """The chosen film (name, pixels H×W×C, mm a pixel and where that came from), or None until one is uploaded."""
    source = st.radio("Film", ["A sample film", "Upload a film"], horizontal=True, key="ns_source")
    if source == "A sample film":
        label = st.selectbox("Sample", FILMS, key="ns_sample")
        image = real_sample(label)
        st.caption(real_sample_caption(label))
        return REAL_SAMPLES[label][0], image.data[0], float(image.spacing[1]), "the sample's own"
    upload = st.file_uploader("A chest film (DICOM, PNG, JPEG, TIFF, MetaImage)", key="ns_upload")
    if upload is None:
        st.info("Upload a frontal chest film, or choose a sample film.", icon=":material/info:")
        return None
    try:
        image = read_image(upload.getvalue(), name=upload.name)
    except MedlibError as exc:
        st.error(str(exc))
        return None
    if image.spacing:
        return upload.name, image.data[0], float(image.spacing[1]), "the file's own"
    side = max(image.data.shape[1:3])
    return upload.name, image.data[0], 400.0 / side, "the file gives none: taken as 400 mm across"


def _nodule(seed: int):
    kind = st.selectbox("Nodule", sources(), key="ns_kind",
                        help="a generated nodule, or one of the real lung nodules cut from CT that this server has")
    if kind == GENERATED:
        return generated_nodule(seed)
    nodules = nodules_from(kind)
    number = st.number_input("CT nodule number", 1, len(nodules), 1 + seed % len(nodules), key="ns_number")
    return nodules[int(number) - 1]


def _curve(locator_entry, locator, lock) -> None:
    """The detectability curve on normal films: the server's JSRT validation films where it has them."""
    st.subheader("Detectability")
    st.caption("The share of simulated nodules the detector finds at one false positive per film, by diameter, over "
               "many placements on normal films it was validated on (a 95% interval for each).")
    jsrt = server_data() / "jsrt"
    if not (jsrt / "manifest.csv").is_file():
        st.info(f"The curve needs normal chest films with lung outlines; this server has none at {server_data()}.",
                icon=":material/info:")
        return
    placements = st.select_slider("Nodules per diameter", [10, 20, 40, 80], 20, key="ns_placements")
    contrast = st.slider("Contrast of the curve's nodules", 0.02, 0.30, 0.10, 0.01, key="ns_curve_contrast")
    if not st.button("Measure the curve", key="ns_measure", icon=":material/monitoring:"):
        result = st.session_state.get(state.STUDIO_CURVE)
    else:
        from medlib.datasets import load_dataset

        films = load_dataset(jsrt)
        chosen = sorted(set(normal_films(films)) & set(films.indices("val").tolist()))
        lungs = lung_fields(films)
        bar = st.progress(0.0, text="Placing nodules…")
        nodules = nodules_from(sources()[-1])
        with heavy_work(), lock:
            result = detectability(locator, [films.images[i] for i in chosen], [lungs[i] for i in chosen], nodules,
                                   film_spacing(films)[0], DIAMETERS, (contrast,), placements,
                                   progress=lambda done: bar.progress(done, text=f"Placing nodules… {done:.0%}"))
        bar.empty()
        result = result | {"model": locator_entry.name}
        state.remember(state.STUDIO_CURVE, result)
    if not result:
        return
    rows = pd.DataFrame(result["curve"])
    figure = go.Figure(go.Scatter(
        x=rows["diameter_mm"], y=rows["sensitivity"], mode="lines+markers", name="found",
        error_y={"type": "data", "symmetric": False,
                 "array": [c[1] - s for c, s in zip(rows["ci"], rows["sensitivity"], strict=True)],
                 "arrayminus": [s - c[0] for c, s in zip(rows["ci"], rows["sensitivity"], strict=True)]}))
    figure.update_layout(xaxis_title="nodule diameter (mm)", yaxis_title="found at 1 false positive per film",
                         yaxis_range=[0, 1.02], height=320, margin={"t": 20, "b": 40})
    st.plotly_chart(figure, width="stretch")
    st.caption(f"{result['model']}: {result['films']} normal validation films of JSRT; a nodule counts as found where "
               f"a candidate scoring at least {result['operating_score']:.2f} (one false positive per film on these "
               "films) lies on it. Simulated nodules: never a real-film figure.")
    st.dataframe(rows.assign(ci=[f"{low:.2f}–{high:.2f}" for low, high in rows["ci"]]), hide_index=True)


def main() -> None:
    st.title("Nodule studio")
    st.warning("Research and teaching tool, not a medical device. The nodules here are simulated.",
               icon=":material/science:")
    st.caption("Put a nodule of a chosen size and contrast on a film and see whether the detector finds it, and where "
               "it truly is (green ring).")
    models = shelf().models()
    locators = [m for m in models if m.card.finding and m.card.dimensions == 2]
    anatomy = next((m for m in models if m.name == ANATOMY), None)
    if not locators or anatomy is None:
        st.error(f"The studio needs a model that locates nodules and the lung outlines of {ANATOMY}: train one on "
                 "the Training page (a data set with located findings).")
        return
    left, right = st.columns([1, 2])
    with left:
        names = [m.name for m in locators]
        chosen = st.selectbox("Detector", names, index=names.index("cxr-nodule") if "cxr-nodule" in names else 0,
                              key="ns_model")
        locator_entry = next(m for m in locators if m.name == chosen)
        picked = _film()
        seed = int(st.session_state.get(state.STUDIO_SEED, 0))
        nodule = _nodule(seed)
        diameter = st.slider("Diameter (mm)", 4.0, 40.0, 15.0, 1.0, key="ns_diameter")
        contrast = st.slider("Contrast", 0.02, 0.30, 0.10, 0.01, key="ns_contrast",
                             help="what the nodule's centre adds, as a share of the lungs' range of brightness")
        place = st.radio("Place", ["random, inside the lungs", "chosen"], horizontal=True, key="ns_place")
        centre = None
        if place == "chosen" and picked is not None:
            height, width = picked[1].shape[:2]
            centre = (st.slider("x (pixels from the left)", 0, width - 1, width // 4, key="ns_x") * 1.0,
                      st.slider("y (pixels from the top)", 0, height - 1, height // 2, key="ns_y") * 1.0)
        if st.button("Another nodule and place", key="ns_again", icon=":material/casino:"):
            state.remember(state.STUDIO_SEED, seed + 1)
            st.rerun()
    if picked is None:
        return
    name, film, spacing, where = picked
    locator, lock = loaded_entry(locator_entry)
    lungs = lungs_of(film, str(anatomy.path), anatomy.card.sha256)
    if centre is not None and not lungs[int(centre[1]), int(centre[0])]:
        right.warning("That place lies outside the lungs as cxr-anatomy outlines them; choose one inside.")
        return
    try:
        with heavy_work(), lock:
            trial = try_nodule(locator, film, lungs, nodule, spacing, diameter, contrast, centre, seed)
    except MedlibError as exc:
        right.error(str(exc))
        return
    with right:
        truth, kind = trial.truth, locator_entry.card.finding
        if trial.hit is not None:
            score = trial.diagnosis.candidates[trial.hit - 1].score
            st.subheader(f"Found: candidate {trial.hit} ({score:.2f}) lies on the {kind}")
        else:
            st.subheader(f"Missed: no candidate at or above {trial.diagnosis.candidate_threshold:.2f} lies on the "
                         f"{kind}")
        display = to_display(MedImage(trial.film[None], format="png"))
        st.image(enlarge(trial_picture(display, trial), 512), width="stretch",
                 caption=f"{name}: a {truth.size_mm((spacing, spacing)):.0f} mm nodule at ({truth.centre[0]:.0f}, "
                         f"{truth.centre[1]:.0f}), green ring; {chosen}'s candidates at or above its threshold, "
                         f"numbered, in yellow. {spacing:.2f} mm a pixel ({where}).")
        if not locator_entry.card.detects:
            st.caption(f"{chosen} has not shown on validation films that its candidates find {kind}s: its marks are "
                       "evidence, not detections.")
        _curve(locator_entry, locator, lock)
    privacy_notice()


main()
