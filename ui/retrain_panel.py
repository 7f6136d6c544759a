"""The Annotate page's "Train from my labels": a run that starts from a model that filled the images in, on the
labelled set, and its figures before and after on the set's held-back images."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from medlib.datasets import Dataset, load_dataset, planar
from medlib.datasets.combine import with_shared
from medlib.datasets.server import server_sets
from medlib.errors import MedlibError
from medlib.labelling.labelled_set import MANIFEST
from medlib.labelling.retrain import MINUTES, before_after, check_retrainable, retrain_config
from medlib.models.loaded import open_model
from medlib.store.folders import StoredModel, check_name
from ui import jobs, state
from ui.intervals import with_interval
from ui.models import heavy_work
from ui.server_sets import server_set
from ui.workspace import remember_in_url, workspace

REFRESH_S = 5.0
"""How often the panel looks at a run in progress."""


@st.cache_resource(max_entries=4, show_spinner=False)
def _labelled(folder: str, written: int) -> Dataset:
    """The labelled set as medlib reads it, read again only when its manifest is written again (``written``): the
    page reruns on every canvas edit."""
    return load_dataset(folder)


def _figures(run: dict) -> pd.DataFrame:
    """The before and after table of an ended run (worked out once, then kept with the run)."""
    if "figures" not in run:
        with heavy_work(), st.spinner("Scoring both models on the held-back images…"):
            dataset = load_dataset(run["data"])
            rows = before_after(open_model(Path(run["before"])), open_model(Path(run["after"])), dataset)
        run = run | {"figures": [{"figure": r["figure"], "images": r["n"],
                                  "before": with_interval(r["before"][0], r["before"][1:]),
                                  "after": with_interval(r["after"][0], r["after"][1:])} for r in rows]}
        state.remember(state.ANNOTATE_RUN, run)
    return pd.DataFrame(run["figures"]).set_index("figure")


def _watch(run: dict) -> None:
    job = jobs.find_job(run["job"], workspace())
    if job is None:
        return
    if job.active:
        also = f" and {run['shared']}" if run.get("shared") else ""
        st.info(f"Training {run['name']} from {Path(run['before']).name} on your labels{also} "
                f"({'queued' if job.state == jobs.WAITING else 'running'}); its curves are on the Training page.",
                icon=":material/hourglass_top:")
        st.page_link("app_pages/train.py", label="Watch it on the Training page", icon=":material/model_training:")
    elif job.error or not (Path(run["after"]) / "card.json").is_file():
        st.error(f"The run {run['name']} ended without a model: {job.error or 'it was stopped'}.",
                 icon=":material/error:")
    else:
        st.success(f"{run['name']} is saved in your models (choose it above to fill images in). Its figures and "
                   f"those of {Path(run['before']).name} on the images held back from the run:",
                   icon=":material/check_circle:")
        st.table(_figures(run))


def retrain_panel(folder: Path, set_name: str, models: list[StoredModel]) -> None:
    """Train one of ``models`` (those that filled the images in) again on the labelled set in ``folder``."""
    st.subheader("Train from my labels")
    try:
        dataset = _labelled(str(folder), (folder / MANIFEST).stat().st_mtime_ns)
        check_retrainable(dataset)
    except MedlibError as exc:
        st.caption(f"Not yet: {exc}.")
        return
    held = len(dataset.indices("test"))
    st.caption(f"A run starts from the model's own weights and learns from {len(dataset) - held} of your images "
               f"(folds where they are few); the {held} held back judge it before and after.")
    run = st.session_state.get(state.ANNOTATE_RUN)
    busy = run is not None and (job := jobs.find_job(run["job"], workspace())) is not None and job.active
    model_column, shared_column, minutes_column, start_column = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
    model = model_column.selectbox("Model to train again", models, format_func=lambda m: m.name, key="an_retrain")
    shared = shared_column.selectbox("Also learn from", [None, *server_sets()], key="an_shared",
                                     format_func=lambda s: "only my labels" if s is None else f"{s.name} (shared)",
                                     help="a data set on this server: its images join the training (never the "
                                          "held-back ones), each structure learned where a set labels it")
    minutes = minutes_column.number_input("Time limit (minutes)", 1.0, 120.0, MINUTES, 1.0, key="an_minutes")
    if start_column.button("Train from my labels", icon=":material/model_training:", key="an_train",
                           disabled=busy or model is None):
        own = workspace()
        name = f"{model.name}-{set_name}"[:48].rstrip("-_.") + time.strftime("-%Y%m%d-%H%M%S")
        try:
            check_name(name)  # before the run, not at its end
            if shared is not None:
                with heavy_work(), st.spinner(f"Reading {shared.name}…"):
                    dataset = with_shared(dataset, planar(server_set(str(shared.path)), shared.name))
            job = jobs.start_job(retrain_config(model, folder, minutes), dataset, own.models / name, own)
        except MedlibError as exc:
            st.error(f"{model.name} cannot learn from this set: {exc}", icon=":material/error:")
            return
        state.remember(state.TRAINING_JOB, job.id)  # the Training page shows its curves
        state.remember(state.ANNOTATE_RUN, {"job": job.id, "name": name, "before": str(model.path),
                                            "after": str(own.models / name), "data": str(folder),
                                            "shared": None if shared is None else shared.name})
        remember_in_url()
        st.rerun()
    if run is not None:
        st.fragment(_watch, run_every=REFRESH_S if busy else None)(run)
