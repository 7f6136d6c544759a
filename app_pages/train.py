"""Training: configure a run on the active data set, start it, watch live curves, stop it; the model store."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from medlib.datasets import FITS
from medlib.errors import MedlibError
from medlib.models.architectures import ARCHITECTURES
from medlib.scoring.calibration import calibration_line
from medlib.spec import Param
from medlib.store.folders import export_zip
from medlib.tasks import tasks_for
from medlib.training import CONFIG_PARAMS, TrainConfig, plan_run
from medlib.training.budget import BUDGET_EPOCHS
from medlib.training.stuck import stuck_lines
from ui import jobs, state
from ui.map_evaluation import fold_table
from ui.models import heavy_work, loaded_entry
from ui.plots import training_curves
from ui.spec_editor import param_widget
from ui.volume_training import volume_form
from ui.workspace import remember_in_url, shelf, workspace

JOB_PARAM = "job"
#: Seconds between redraws of a running job's progress: each costs the server a short script run, for every visitor
#: who watches a run.
REFRESH_S = 2.0
#: Seconds between redraws of its curves: a plotly chart sent again costs the watching browser about 0.3 s of CPU
#: and the server 0.05 s (measured in headless Chromium: 4.2-5.0 s of the browser's CPU in 20 s of watching with the
#: curves redrawn every 2 s, 1.3-1.5 s without them), and the curves move only when an epoch ends.
CURVES_REFRESH_S = 10.0


# The settings shown first; the others (every CONFIG_PARAMS entry but the task and how a data set of many sizes
# was read) are under "More settings". (A comment: a bare string here would be drawn on the page.)
MAIN_SETTINGS = ("model", "epochs", "max_minutes")
#: The page's own defaults where they differ from a config's: a visitor's run ends within minutes unless they say
#: otherwise (the command line trains without a limit by default).
PAGE_DEFAULTS = {"max_minutes": 10.0}
OTHER_SETTINGS = tuple(p for p in CONFIG_PARAMS if p.name not in (*MAIN_SETTINGS, "task", "fit", "nodule_share"))
# (the share of films given simulated nodules comes with the nodules, from the Augmentation page: _nodules)


def _label(param: Param) -> str:
    """A setting's title as a sentence starts."""
    return param.title[:1].upper() + param.title[1:]


def _setting(param: Param, where, **changes) -> object:
    """The widget of a training setting (``tr_<name>``), from its declaration (with the page's own default)."""
    default = PAGE_DEFAULTS.get(param.name, param.default)
    return param_widget(replace(param, label=_label(param), **changes), default, f"tr_{param.name}", where)


def _nodules(dataset) -> dict:
    """The simulated nodules handed over by the Augmentation page (``nodules`` and ``nodule_share``), said in one
    line with a way to drop them; none for a set without located findings."""
    chosen = st.session_state.get(state.TRAIN_NODULES)
    if not chosen or dataset.findings is None:
        return {}
    line, drop = st.columns([4, 1])
    line.caption(f"Simulated nodules from {Path(chosen['folder']).name} in {chosen['share']:.0%} of the training "
                 "films without a finding (set on the Augmentation page); validation films get none.")
    if drop.button("Don't use", key="tr_nodules_drop"):
        state.forget(state.TRAIN_NODULES)
        st.rerun()
    return {"nodules": chosen["folder"], "nodule_share": chosen["share"]}


def _config_form(dataset) -> tuple[TrainConfig, str] | None:
    params = {p.name: p for p in CONFIG_PARAMS}
    tasks = {task.name: task for task in tasks_for(dataset)}
    task = st.radio(_label(params["task"]), list(tasks), horizontal=True, key="tr_task",
                    format_func=lambda name: tasks[name].title)
    models = ("auto", *(name for name in ARCHITECTURES if tasks[task].takes(name)))
    settings = {"task": task}
    for column, name in zip(st.columns(3), MAIN_SETTINGS, strict=True):
        settings[name] = _setting(params[name], column, **({"choices": models} if name == "model" else {}))
    with st.expander("More settings"):
        shown = [p for p in OTHER_SETTINGS if p.shown_if is None or settings[p.shown_if[0]] in p.shown_if[1]]
        columns = st.columns(3)
        for i, param in enumerate(shown):
            settings[param.name] = _setting(param, columns[i % 3])
        use_augment = st.checkbox("Use the active augmentation", True, key="tr_augment")
    settings |= _nodules(dataset) if use_augment else {}
    pipeline, augmenter = state.active_pipeline(), state.active_augmenter()
    # The data set's defaults are the recipe's own: left as they are, the recipe derives them (and says so).
    derived_pipeline = pipeline.to_dict() == state.dataset_default_pipeline(dataset).to_dict()
    derived_augment = use_augment and augmenter.to_dict() == state.dataset_default_augmenter(dataset).to_dict()
    name = st.text_input("Model name", f"{task}-{time.strftime('%Y%m%d-%H%M%S')}", key="tr_name")
    try:
        config = TrainConfig(
            data=dataset.name, fit=dataset.fit if dataset.fit in FITS else FITS[0], **settings,
            preprocess=None if derived_pipeline else pipeline.to_dict(),
            augment=None if derived_augment else augmenter.to_dict() if use_augment else {"steps": []},
        )
        _recipe_table(config, dataset)
    except MedlibError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    return config, name.strip()


@st.cache_data(max_entries=16, show_spinner="Deriving the recipe from the data (and, for a timed run, measuring this "
                                             "server's speed)…")
def _recipe(config_json: str, content: str, _dataset) -> dict:
    with heavy_work():
        _, plan, _ = plan_run(TrainConfig.from_json(config_json), _dataset)
    return {"choices": {name: choice.to_dict() for name, choice in plan.choices.items()},
            "batch": plan.batch_size, "folds": plan.folds}


def _shown(name: str, value: object, minutes: float) -> str:
    """A recipe value as the run uses it (a timed run's epochs are its time limit)."""
    if name == "epochs" and value == BUDGET_EPOCHS:
        return f"until the time limit ({minutes:g} min)"
    return str(value)


def _recipe_table(config: TrainConfig, dataset) -> None:
    """The run's recipe before it starts, as the run will use it: every choice, derived from the data (and a timed
    run's from the speed measured on this server) or set, with its reason in full."""
    recipe = _recipe(json.dumps(config.to_dict(), sort_keys=True), dataset.fingerprint, dataset)
    choices, minutes, folds = recipe["choices"], config.max_minutes, recipe["folds"]
    steps, transforms = choices["preprocessing"], choices["augmentation"]
    length = f"until the time limit of {minutes:g} minutes" if minutes else f"{choices['epochs']['value']} epochs"
    split = f", split over {folds} folds of about {minutes / folds:.1f} minutes each" if folds > 1 and minutes else \
        f" on each of {folds} folds" if folds > 1 else ""
    st.caption(f"**This run**: batch {recipe['batch']}, {length}{split}. Preprocessing: {steps['value'] or 'none'} "
               f"({'derived' if steps['derived'] else 'as set'}) · augmentation: {transforms['value'] or 'off'} "
               f"({'derived' if transforms['derived'] else 'as set'}); set on their pages.")
    rows = [{"setting": name, "value": _shown(name, c["value"], minutes), "how": "derived" if c["derived"] else "set",
             "why": c["reason"]} for name, c in choices.items()]
    if folds > 1 and minutes:
        rows.append({"setting": "minutes per fold", "value": f"{minutes / folds:.1f}", "how": "derived",
                     "why": f"the time limit shared by the {folds} folds, trained one after another"})
    with st.expander("The recipe of this run (derived from the data unless set)", expanded=False):
        st.table(pd.DataFrame(rows).set_index("setting"))  # a table wraps the reasons; a data frame cuts them
        if minutes:
            st.caption("The batch, the folds and a U-Net's width follow the speed measured on this server now; the "
                       "run measures it again as it starts, and its header says what it uses.")


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s"


def _metrics_with_intervals(metrics: dict) -> pd.DataFrame:
    """One row per split, each metric with its 95% interval beside it (``0.970 [0.956, 0.983]``)."""
    rows = {}
    for split, values in metrics.items():
        if not isinstance(values, dict):  # the folds' own figures: shown apart
            continue
        row = {}
        for name, value in values.items():
            if name.endswith("_ci") or isinstance(value, (list, dict)):
                continue
            low, high = values.get(f"{name}_ci") or (None, None)
            shown = "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
            row[name] = f"{shown} [{low:.3f}, {high:.3f}]" if low is not None and high is not None else shown
        rows[split] = row
    return pd.DataFrame(rows).T


def _draw_job(job: jobs.Job) -> None:
    snap = job.snapshot()
    running = snap["state"] == jobs.RUNNING
    active = snap["state"] in (jobs.WAITING, jobs.RUNNING)  # from the snapshot: the live state may be ahead of it
    header, stop = st.columns([4, 1])
    header.markdown(f"**{job.name}** on {job.dataset_name} — {snap['state']}")
    position = job.position()
    if position is not None:
        queue = jobs.training_queue()
        st.info(f"Waiting in the server's training queue: **position {position}** ({queue.running} run(s) at once "
                f"on this server, at most {queue.slots}). It starts by itself when a run ahead of it ends.",
                icon=":material/hourglass_top:")
    if active and stop.button("Stop" if position is None else "Leave the queue", key="tr_stop", type="primary",
                                  icon=":material/stop_circle:"):
        job.request_stop()
    batch, start = snap["last_batch"], snap["start"]
    if start:
        fold = f"fold {start['fold']} of {start['folds']} · " if start.get("fold") else ""
        st.caption(f"{fold}{start['model']} · {start['parameters']:,} parameters · input {start['input_shape']} · "
                   f"{start['train']} train / {start['val']} validation images · "
                   f"batch {start['batch_size']}")
        for note in start["notes"] + ([start["init_from"]["note"]] if start.get("init_from") else []):
            st.caption(f"• {note}")
    phases = {"calibrate": "calibrating the probabilities and choosing the threshold on the validation images…",
              "gate": "fitting the out-of-distribution gate on the training images…"}
    if running and snap["phase"] and not snap["end"]:
        st.progress(1.0, text=phases.get(snap["phase"]["event"], "finishing…"))
    elif running and batch:
        of = f"/{batch['epochs']}" if batch["epochs"] < BUDGET_EPOCHS else " of the time limit"
        fold = f"fold {batch['fold']}/{batch['folds']} · " if batch.get("fold") else ""
        text = (f"{fold}epoch {batch['epoch']}{of} · batch {batch['batch']}/{batch['batches']} · "
                f"{batch['images_per_s']:.0f} images/s · ETA {_duration(batch['eta_s'])}")
        st.progress(batch.get("progress", batch["batch"] / batch["batches"]), text=text)
    elif running:
        st.progress(0.0, text="preparing the data and building the model…")
    if snap["state"] == "failed":
        st.error(f"Training failed: {snap['error']}", icon=":material/error:")
    if snap["end"]:
        end = snap["end"]
        st.success(f"Saved as **{end['model']}** ({end['ended']}, {_duration(end['seconds'])}); it is now the active "
                   "model.", icon=":material/check_circle:")
        st.dataframe(_metrics_with_intervals(end["metrics"]), width="stretch")
        if end["metrics"].get("folds"):
            st.caption("Each fold's own validation figures (the spread says how far one small validation split can "
                       "be trusted; the row `val` above pools their out-of-fold predictions):")
            st.dataframe(fold_table(end["metrics"]["folds"]), hide_index=True, width="stretch")
        if end.get("threshold"):
            st.caption(f"Decision threshold {end['threshold']['value']:.3f} ({end['threshold']['rule']}, on "
                       f"{end['threshold']['chosen_on']}); the metrics above are at it.")
        if end.get("calibration"):
            st.caption(calibration_line(end["calibration"]))
        if state.active_model() != end["model"] and st.session_state.get(state.JOB_ACKNOWLEDGED) != job.id:
            state.remember(state.ACTIVE_MODEL, end["model"])
            state.remember(state.JOB_ACKNOWLEDGED, job.id)
            st.rerun(scope="app")
    elif not active and st.session_state.get(state.JOB_ACKNOWLEDGED) != job.id:
        state.remember(state.JOB_ACKNOWLEDGED, job.id)
        st.rerun(scope="app")


def _draw_curves(job: jobs.Job) -> None:
    """The curves of every fold (a tab each, the latest first), with a plain line for a metric that is stuck."""
    epochs = job.snapshot()["epochs"]
    if not epochs:
        return
    folds = list(dict.fromkeys(e.get("fold") for e in epochs))[::-1]  # the latest first: the one a run is on
    places = st.tabs([f"fold {fold}" for fold in folds]) if len(folds) > 1 else [st.container()]
    for place, fold in zip(places, folds, strict=True):
        own = [e for e in epochs if e.get("fold") == fold]
        with place:
            st.plotly_chart(training_curves(own), key=f"tr_curves_{fold}")
            for line in stuck_lines(own):
                st.caption(f":material/info: {line[:1].upper()}{line[1:]}.")


def train_tab() -> None:
    dataset = state.active_dataset()
    own = workspace()
    job = jobs.find_job(st.session_state.get(state.TRAINING_JOB) or st.query_params.get(JOB_PARAM), own)
    if job is not None:
        state.remember(state.TRAINING_JOB, job.id)
    active = job is not None and job.active
    volumes = state.volume_set()  # the 3-D set the Upload page shows trains a volume model
    form = volume_form(volumes) if volumes is not None else _config_form(dataset)
    start = st.button("Start training", type="primary", key="tr_start", icon=":material/play_arrow:",
                      disabled=active or form is None)
    if start and form is not None:
        config, name = form
        if shelf().taken(name):
            st.error(f"A model named {name!r} exists already; choose another name.", icon=":material/error:")
        else:
            job = jobs.start_job(config, volumes if volumes is not None else dataset, own.models / name, own)
            state.remember(state.TRAINING_JOB, job.id)
            st.query_params[JOB_PARAM] = job.id
            remember_in_url()
            st.rerun()  # the form again, Start disabled while the run goes
    if job is not None:
        st.divider()
        st.fragment(_draw_job, run_every=REFRESH_S if active else None)(job)
        st.fragment(_draw_curves, run_every=CURVES_REFRESH_S if active else None)(job)


def _rename_or_delete(chosen: str, active: str | None) -> None:
    """Rename or delete one of the visitor's own models."""
    new_name = st.text_input("Rename to", key="st_new_name")
    rename, delete = st.columns(2)
    if rename.button("Rename", key="st_rename", disabled=not new_name):
        try:
            shelf().rename(chosen, new_name.strip())
            if active == chosen:
                state.remember(state.ACTIVE_MODEL, new_name.strip())
            st.rerun()
        except (MedlibError, OSError) as exc:
            st.error(str(exc), icon=":material/error:")
    confirm = delete.checkbox(f"Yes, delete {chosen}", key="st_confirm")
    if delete.button("Delete", key="st_delete", disabled=not confirm):
        try:
            shelf().delete(chosen)
        except MedlibError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        if active == chosen:
            state.forget(state.ACTIVE_MODEL)
        st.rerun()


def store_tab() -> None:
    models = shelf().models()
    st.caption("Your models (trained or uploaded here) are private to this browser session and are removed when it "
               "ends: download the ones to keep. Shared models are read-only: use or download them.")
    if not models:
        st.info("No models yet: train one above, or upload one below.", icon=":material/info:")
    else:
        rows = []
        for m in models:
            test = m.card.headline
            rows.append({"name": m.name, "whose": "shared (read-only)" if m.read_only else "yours",
                         "task": m.card.spec.title, "architecture": m.card.architecture,
                         "data set": m.card.dataset.get("name"), "AUC": test.get("auc"),
                         "accuracy": test.get("accuracy"), "dice": test.get("dice"), "created": m.card.created,
                         "MB": round(m.card.size / 1e6, 2)})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        names = [m.name for m in models]
        active = state.active_model()
        chosen = st.selectbox("Model", names, index=names.index(active) if active in names else 0, key="st_model")
        stored = next(m for m in models if m.name == chosen)
        use, download = st.columns(2)
        if use.button("Make active", key="st_use", disabled=chosen == active):
            state.remember(state.ACTIVE_MODEL, chosen)
            st.rerun()
        download.download_button("Download (.zip)", export_zip(stored), f"{chosen}.zip", "application/zip",
                                 key="st_download", icon=":material/download:")
        if stored.read_only:
            st.caption(f"{chosen} is shared: it cannot be renamed or deleted here.")
        else:
            _rename_or_delete(chosen, active)
        if st.button("Load and check", key="st_check", help="load in Keras safe mode after checking size and SHA-256"):
            try:
                loaded, _ = loaded_entry(stored)
                model = loaded.model
                shapes = f"input {list(model.input_shape[1:])}, output {list(model.output_shape[1:])}"
                st.success(f"{chosen} loads: {shapes}, {model.count_params():,} parameters.",
                           icon=":material/check_circle:")
            except (MedlibError, KeyError, ValueError, OSError) as exc:
                st.error(str(exc), icon=":material/error:")
        with st.expander("Model card"):
            st.json(stored.card.to_dict(), expanded=1)
    st.subheader("Upload a model")
    upload = st.file_uploader("A .keras file or a model .zip from this app", type=["keras", "zip", "h5"],
                              key="st_upload")
    name = st.text_input("Name for it", key="st_upload_name")
    if st.button("Add to the store", key="st_add", disabled=upload is None or not name):
        try:
            with st.spinner("Checking the model in safe mode…"):
                shelf().add_upload(upload.getvalue(), upload.name, name.strip())
            st.success(f"Added {name.strip()}.")
        except MedlibError as exc:
            st.error(f"{upload.name}: {exc}", icon=":material/error:")


st.title("Training")
train_section, store_section = st.tabs(["Train", "Model store"])
with train_section:
    train_tab()
with store_section:
    store_tab()
