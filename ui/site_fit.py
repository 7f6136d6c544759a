"""The Evaluation page's site recalibration: a classifier's calibration and threshold refitted on the active set's
labelled films (half fit, half check), its weights kept, the new model saved in the visitor's workspace; the check
half's figures and reliability diagrams before and after."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from medlib.datasets import Dataset
from medlib.errors import MedlibError
from medlib.scoring.calibration import calibration_line
from medlib.store.folders import StoredModel
from ui import state
from ui.intervals import with_interval
from ui.models import heavy_work, loaded_entry
from ui.plots import calibration_figure
from ui.workspace import shelf, workspace

FIGURES = {"ece": "calibration error (ECE)", "sensitivity": "sensitivity", "specificity": "specificity",
           "auc": "AUC (the ranking: unchanged)"}


def site_tab(stored: StoredModel, dataset: Dataset) -> None:
    """Refit ``stored`` to ``dataset`` (a site's labelled films) on request, and show what changed."""
    st.caption(f"Refit {stored.name}'s probability (its calibration) and decision threshold on every labelled film of "
               f"{dataset.name}: half of them fit, the other half says what changed. Its weights are kept, so it "
               "ranks the films as before (the same AUC). The new model is saved in your workspace.")
    name = st.text_input("Name of the recalibrated model", f"{stored.name}-site"[:64], key="ev_site_name")
    if st.button(f"Recalibrate on {dataset.name}", key="ev_site", type="primary", icon=":material/tune:"):
        from medlib.training.recalibrate import recalibrate

        if shelf().taken(name.strip()):
            st.error(f"A model named {name.strip()!r} exists already; choose another name.", icon=":material/error:")
            return
        try:
            loaded, lock = loaded_entry(stored)
            with heavy_work(), lock:
                done = recalibrate(loaded, dataset, workspace().models / name.strip())
        except MedlibError as exc:
            st.error(f"{dataset.name}: {exc}", icon=":material/error:")
            return
        state.remember(state.SITE_FIT, {"of": stored.name, "on": dataset.fingerprint, "saved": done.stored.name,
                                        "site": done.site, "reliability": done.reliability,
                                        "calibration": done.stored.card.calibration})
    fitted = st.session_state.get(state.SITE_FIT)
    if not fitted or fitted["of"] != stored.name or fitted["on"] != dataset.fingerprint:
        return
    site = fitted["site"]
    st.success(f"Saved as **{fitted['saved']}** (make it active in the Training page's Model store). "
               f"{calibration_line(fitted['calibration'])}", icon=":material/check_circle:")
    rows = [{"figure": label, **{when: with_interval(site[when].get(key), site[when].get(f"{key}_ci"))
                                 for when in ("before", "after")}} for key, label in FIGURES.items()]
    rows.append({"figure": "threshold", "before": f"{site['before']['threshold']:.3f}",
                 "after": f"{site['after']['threshold']:.3f}"})
    st.table(pd.DataFrame(rows).set_index("figure"))
    st.caption(f"On the {site['check_films']} films of {site['name']} it was not fitted on (fitted on "
               f"{site['fit_films']}); 95% bootstrap intervals over films.")
    for column, when in zip(st.columns(2), ("before", "after"), strict=True):
        figure = calibration_figure(fitted["reliability"][when])
        figure.update_layout(title=f"{when} · {figure.layout.title.text}")
        column.plotly_chart(figure, key=f"ev_site_{when}")
