"""Augmentation playground: compose transforms, see many variants of real images with their masks."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from medlib.augment import TRANSFORMS, Augmenter, default_augmenter, load_augmenter
from medlib.display.drawing import draw_targets, enlarge, scale_to_uint8
from medlib.errors import MedlibError
from medlib.targets import move_findings
from ui import state
from ui.legend import legend
from ui.nodule_step import nodule_step
from ui.spec_editor import edit_spec, set_steps, spec_actions
from ui.volume_preview import previews_volumes, volume_augment_preview

PER_ROW = 6


def _view(image: np.ndarray, mask: np.ndarray | None, findings=(), named: bool = False) -> np.ndarray:
    return draw_targets(enlarge(scale_to_uint8(image, 0.0, 1.0), 192), image.shape[0], mask, findings, named,
                        thickness=2)


def _corners(findings) -> np.ndarray | None:
    """The (x, y) points that locate ``findings``, one array for the augmentation to move."""
    return np.concatenate([f.corners() for f in findings]) if findings else None


def _moved(findings, points: np.ndarray | None) -> list:
    """``findings`` at the moved ``points`` (as :func:`_corners` stacked them)."""
    out, start = [], 0
    for finding in findings:
        count = len(finding.corners())
        out.append(finding.placed(points[start : start + count]))
        start += count
    return out


def _with_nodules(draws, mask: np.ndarray | None, size: tuple[int, int], seed: int, pipeline,
                  augmenter) -> tuple[list, list]:
    """One variant of each draw of the simulated nodules (the film, or it with nodules), through the active
    preprocessing and augmentation, and its findings where the draw moved them."""
    variants, moved = [], []
    for k, (film, added) in enumerate(draws):
        processed = pipeline.run(film, mask)
        found = move_findings(added, processed.geometry.record, size)
        variant = augmenter.variants(processed.image, processed.mask, n=1, seed=seed * 1009 + k,
                                     points=_corners(found))[0]
        variants.append(variant)
        moved.append(_moved(found, variant.points))
    return variants, moved


def _pick_images(dataset) -> list[int]:
    split = st.selectbox("Split", [s for s in ("train", "val", "test") if dataset.indices(s).size], key="aug_split")
    positions = dataset.indices(split)
    labels = {
        f"{dataset.ids[i]} · "
        + (dataset.class_names[int(dataset.labels[i])] if dataset.labels is not None else "mask"): int(i)
        for i in positions[:300]
    }
    default = list(labels)[:1]
    if dataset.labels is not None:  # start on an image with a finding where there is one
        default = [name for name, i in labels.items() if int(dataset.labels[i]) != 0][:1] or default
    chosen = st.multiselect("Images", list(labels), default=default, key="aug_images", max_selections=4)
    return [labels[name] for name in chosen]


def _reroll() -> None:
    state.remember(state.AUGMENT_SEED, int(st.session_state.get(state.AUGMENT_SEED, 0)) + 1)


def _defaults() -> None:
    chest, fundus = st.columns(2)
    for column, kind in ((chest, "chest"), (fundus, "fundus")):
        if column.button(f"Default for {kind} images", key=f"aug_default_{kind}"):
            set_steps(state.AUGMENT_EDITOR, default_augmenter(kind).steps)
            st.rerun()


st.title("Augmentation")
dataset = state.active_dataset()
if previews_volumes(state.volume_set(), dataset.name, "au_what"):
    volume_augment_preview(state.volume_set())
    st.stop()
pipeline = state.active_pipeline()
st.caption(
    "Variants of the active data set's images after the active preprocessing "
    f"({' → '.join(n for n, _ in pipeline.steps) or 'none'}). Masks, label maps and located findings move "
    "with their images, under the same draw."
)
controls, grid = st.columns([1, 2])
with controls:
    chosen = _pick_images(dataset)
    seed_col, n_col = st.columns(2)
    seed = seed_col.number_input("Seed", 0, 1_000_000, 0, key=state.AUGMENT_SEED)
    count = n_col.slider("Variants", 4, 32, 16, step=4, key="aug_count")
    st.button("Re-roll", key="aug_reroll", on_click=_reroll, icon=":material/casino:", help="next seed")
    st.subheader("Transforms")
    augmenter = edit_spec(state.AUGMENT_EDITOR, TRANSFORMS, state.active_augmenter().steps, Augmenter)
    simulated = nodule_step(dataset)

with grid:
    if augmenter is not None and not chosen:
        st.info("Choose one or more images.", icon=":material/info:")
    if augmenter is not None and chosen:
        drawn = []
        started = time.perf_counter()
        named = len(dataset.structures) > 1
        if named or dataset.findings is not None:
            legend(dataset.structures if named else [], dataset.findings is not None)
        for i in chosen:
            mask = raw_mask = None if dataset.masks is None else dataset.masks[i]
            try:
                processed = pipeline.run(dataset.images[i], mask)
                image, mask = processed.image, processed.mask
                findings = move_findings(dataset.findings[i], processed.geometry.record, dataset.image_size) \
                    if dataset.findings is not None else []
                draws = simulated.films(i, int(count), int(seed)) if simulated is not None else None
                if draws is None:
                    variants = augmenter.variants(image, mask, n=int(count), seed=int(seed), points=_corners(findings))
                    moved = [_moved(findings, v.points) for v in variants]
                else:
                    variants, moved = _with_nodules(draws, raw_mask, dataset.image_size, int(seed), pipeline,
                                                    augmenter)
            except MedlibError as exc:
                st.error(f"{dataset.ids[i]}: {exc}", icon=":material/error:")
                break
            if image.min() < 0.0 or image.max() > 1.0:
                st.warning(
                    "The active preprocessing gives values outside 0..1; augmentation clips them. "
                    "End the pipeline with a window or a min-max normalisation.",
                    icon=":material/warning:",
                )
            st.markdown(f"**{dataset.ids[i]}** — original, then {len(variants)} variants")
            tiles = [(_view(image, mask, findings, named), "original")]
            tiles += [(_view(v.image, v.mask, found, named), f"#{k + 1}" + (" · nodules" if draws and draws[k][1]
                                                                               else ""))
                      for k, (v, found) in enumerate(zip(variants, moved, strict=True))]
            for row in range(0, len(tiles), PER_ROW):
                for column, (tile, caption) in zip(st.columns(PER_ROW), tiles[row : row + PER_ROW], strict=False):
                    column.image(tile, caption=caption, width="stretch")
            drawn += [
                {"image": dataset.ids[i], "variant": k + 1, "applied": ", ".join(a["transform"] for a in v.applied)}
                | {"parameters": str(v.applied)}
                for k, v in enumerate(variants)
            ]
        st.caption(f"{len(chosen) * int(count)} variants in {(time.perf_counter() - started) * 1000:.0f} ms")
        with st.expander("Parameters drawn for each variant"):
            st.dataframe(pd.DataFrame(drawn), hide_index=True, width="stretch")
    if augmenter is not None:
        spec_actions(state.AUGMENT_EDITOR, augmenter, state.active_augmenter(), state.set_active_augmenter,
                     load_augmenter, "training")
        _defaults()
        with st.expander("Augmentation spec (JSON)", expanded=True):
            st.code(augmenter.to_json(), language="json")
