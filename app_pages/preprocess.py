"""Preprocessing: build the pipeline step by step and see every stage, its histogram and its time."""

from __future__ import annotations

import numpy as np
import streamlit as st

from medlib.display.drawing import draw_targets, enlarge, scale_to_uint8
from medlib.errors import MedlibError
from medlib.preprocessing.pipeline import STEPS, Pipeline, load_pipeline
from ui import state
from ui.legend import legend
from ui.pick import pick_image
from ui.plots import histogram
from ui.spec_editor import edit_spec, set_steps, spec_actions
from ui.volume_preview import previews_volumes, volume_preprocess_preview

COLUMNS = 4


def _display(image: np.ndarray) -> np.ndarray:
    """8-bit view: 0..1 images as they are (what the model gets), other ranges scaled to their min..max."""
    low, high = float(image.min()), float(image.max())
    if 0.0 <= low and high <= 1.0:
        return scale_to_uint8(image, 0.0, 1.0)
    return scale_to_uint8(image)


def _show_stages(pipeline: Pipeline, picked) -> np.ndarray | None:
    try:
        stages = pipeline.trace(picked.image, picked.mask, picked.window)
        final, _ = pipeline.apply(picked.image, picked.mask, picked.window)
    except MedlibError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    total = sum(s.seconds for s in stages) * 1000
    st.caption(f"{len(stages) - 1} step(s) in {total:.1f} ms on this image")
    if picked.named or picked.findings:
        legend(state.active_dataset().structures if picked.named else [], bool(picked.findings))
    for row in range(0, len(stages), COLUMNS):
        for column, stage in zip(st.columns(COLUMNS), stages[row : row + COLUMNS], strict=False):
            with column:
                moved = stage.move_findings(picked.findings, picked.image.shape)
                view = draw_targets(enlarge(_display(stage.image), 192), stage.image.shape[0], stage.mask, moved,
                                    picked.named)
                h, w, c = stage.image.shape
                timing = "" if stage.name == "input" else f" · {stage.seconds * 1000:.1f} ms"
                st.image(view, caption=f"{stage.name}: {w}×{h}×{c}{timing}", width="stretch")
                figure = histogram(stage.image)
                figure.update_layout(height=150, xaxis_title=None, yaxis_title=None, margin=dict(t=5, b=5))
                st.plotly_chart(figure, key=f"stage_hist_{row}_{stage.name}_{column}")
    return final


st.title("Preprocessing")
dataset = state.active_dataset()
if previews_volumes(state.volume_set(), dataset.name, "pp_what"):
    st.caption("The 3-D recipe runs here as in training and at inference: what you see is what the model gets.")
    volume_preprocess_preview(state.volume_set())
    st.stop()
st.caption("The same pipeline runs here, in training and at inference: what you see is what the model gets.")
controls, stages_area = st.columns([1, 2])
with controls:
    picked = pick_image(dataset, "pp_pick")
    st.subheader("Steps")
    pipeline = edit_spec(state.PREPROCESS_EDITOR, STEPS, state.active_pipeline().steps, Pipeline)
    if st.button("Reset to the default pipeline", key="pp_reset"):
        set_steps(state.PREPROCESS_EDITOR, state.dataset_default_pipeline(dataset).steps)
        st.rerun()
with stages_area:
    if pipeline is not None and picked is not None:
        st.markdown(f"**{picked.label}**")
        final = _show_stages(pipeline, picked)
        if final is not None:
            h, w, c = final.shape
            st.markdown(
                f"**Model input at its real size** — {w}×{h}×{c} float32, values {final.min():.3g} … {final.max():.3g}"
            )
            st.image(_display(final), width=w)
    if pipeline is not None:
        spec_actions(state.PREPROCESS_EDITOR, pipeline, state.active_pipeline(), state.set_active_pipeline,
                     load_pipeline, "training and inference")
        with st.expander("Pipeline JSON"):
            st.code(pipeline.to_json(), language="json")
