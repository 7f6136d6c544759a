"""The Diagnose page's answer panels: each model's answer beside the population it learned from; the nodule
candidates with their place and size; the outlined structures with what they measure."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from medlib.answers.diagnosis import Diagnosis
from medlib.answers.report import candidate_rows
from medlib.store.card import DETECTS_FROM
from medlib.store.folders import StoredModel
from ui.legend import legend


def learned_from(entry: StoredModel) -> str:
    """What a model's answer rests on, in a few words (its card's population, else its data set's name)."""
    who = entry.card.population or f"the {entry.card.dataset.get('name', 'unknown')} set"
    return f"{entry.name} learned from {who}"


def decision_caption(result: Diagnosis, classifier: StoredModel) -> str:
    if result.decision_threshold is None:
        return f"by {classifier.name}; the most probable class. Probability of every class:"
    positive = result.class_names[1]
    return (f"by {classifier.name}: probability of {positive} {result.probabilities[1]:.1%}; it calls "
            f"{positive} from {result.decision_threshold:.1%} (its threshold, chosen on validation films). "
            f"{learned_from(classifier)}. Probability of every class (calibrated on validation films):")


def candidates_panel(result: Diagnosis, locator: StoredModel, spacing_known: bool) -> None:
    """The locating model's answer: the film's probability of a finding, and each candidate it calls (numbered as on
    the picture) with its score, lung and zone, and size."""
    kind, threshold = locator.card.finding or "finding", result.candidate_threshold
    if not result.fits("locator"):
        st.subheader(f"No {kind} candidates: not for this film")
        st.caption(f"{result.population['locator'].reason}: its marks are left out of the picture, the report and "
                   "the DICOM answer.")
        marks = [c for c in result.candidates if threshold is not None and c.score >= threshold]
        with st.expander(f"What {locator.name} would mark ({len(marks)} at or above {threshold:.2f})"):
            st.caption(", ".join(f"{c.score:.2f} at ({c.centre[0]:.0f}, {c.centre[1]:.0f})" for c in marks) or "none")
        return
    called = result.called()
    if result.detections:
        verdict = f"{len(called)} {kind} candidate(s)" if called else f"No {kind} candidate"
        st.subheader(f"{verdict} at or above {threshold:.2f}")
    else:
        st.subheader(f"Evidence for a {kind}, not detections")
    st.caption(f"by {locator.name}: probability that the film holds a {kind} {result.finding_probability:.1%} "
               f"(its best candidate's; its own threshold {result.finding_threshold:.2f}, chosen on out-of-fold "
               f"validation films). {learned_from(locator)}.")
    found = locator.card.metrics.get("val", {}).get("sensitivity_at_1fp")
    if not result.detections:
        shown = f"they hit {found:.0%} of the {kind}s at one false mark a film" if found is not None else \
            "it was not measured"
        st.caption(f"{locator.name} has not shown on validation films that its marks find {kind}s ({shown}; a "
                   f"detector must reach {DETECTS_FROM:.0%}). The numbered marks at or above {threshold:.2f} show "
                   f"where the evidence for its probability lies, not {kind}s: they are not counted or written as "
                   "findings.")
    if not called:
        st.caption(f"No place on this film scores {threshold:.2f} or more. This is not proof that it holds no "
                   f"{kind}: the model misses some, most of all subtle ones.")
        return
    # the numbers drawn on the picture
    st.table(pd.DataFrame(candidate_rows(result)).set_index("candidate"), hide_index=False)
    if not spacing_known:
        st.caption("Sizes in pixels: the file gives no pixel spacing.")


def anatomy_panel(result: Diagnosis, segmenter: StoredModel) -> None:
    """The structures a segmenter outlined, their areas, and the cardiothoracic ratio with its usual reading."""
    st.subheader("Anatomy")
    if not result.fits("segmenter"):
        st.caption(f":material/group_off: {result.population['segmenter'].reason}: read the outlines and the ratio "
                   "with that in mind.")
    legend(result.structures)
    for name, why in result.unreliable.items():
        st.warning(f"**The {name} outline is unreliable**: {why}.", icon=":material/report:")
    rows = [{"structure": name, "area": f"{areas['area_mm2'] / 100:.0f} cm²" if "area_mm2" in areas else
             f"{areas['area_px']:,} px", "outline": "unreliable" if name in result.unreliable else "plausible"}
            for name, areas in result.structure_areas.items()]
    st.table(pd.DataFrame(rows).set_index("structure"))
    ratio = result.measurements.get("cardiothoracic_ratio")
    if ratio is not None:
        view = result.measurements.get("view")
        st.metric(f"Cardiothoracic ratio ({view or 'view not given'})", f"{ratio:.2f}",
                  help="the heart's widest horizontal extent over the thorax's widest inner extent (from the "
                       "lungs' outer edges), measured on the outlines")
        reading = result.measurements["reading"]
        st.caption(f"{reading[0].upper()}{reading[1:]}. {learned_from(segmenter)}.")
    elif result.unreliable:
        st.caption(f"No cardiothoracic ratio: it would rest on an unreliable outline, and a wrong ratio is worse "
                   f"than none. {learned_from(segmenter)}.")
    else:
        st.caption(f"The cardiothoracic ratio needs both lungs and the heart outlined. {learned_from(segmenter)}.")
