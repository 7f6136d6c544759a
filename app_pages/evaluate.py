"""Evaluation: metrics with confidence intervals, curves, an operating point, the errors with their heat maps,
a comparison of two models, and a downloadable report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from medlib.datasets import SPLITS, Dataset
from medlib.display.drawing import draw_findings, enlarge
from medlib.errors import MedlibError
from medlib.models.explanations import explain_images, explanation_picture
from medlib.models.heatmaps import METHOD_LABELS, METHODS
from medlib.scoring.calibration import calibration_line
from medlib.scoring.classification import (
    METRICS,
    calibration,
    compare,
    confusion,
    curves,
    metrics_with_intervals,
    predicted_classes,
    predictions_table,
)
from medlib.scoring.evaluate import model_labels, predict_split
from medlib.scoring.thresholds import threshold_for, youden_threshold
from medlib.store.folders import StoredModel
from ui import state
from ui.map_evaluation import fold_spread, froc_figure, localization_tab, scored, segmentation_tab
from ui.models import loaded_model
from ui.plots import calibration_figure, confusion_heatmap, pr_figure, roc_figure
from ui.report import DISCLAIMER, GalleryItem, evaluation_report
from ui.site_fit import site_tab
from ui.volume_evaluation import volume_evaluation
from ui.workspace import shelf

GALLERY = 8
LABELS = {"accuracy": "accuracy", "sensitivity": "sensitivity (recall)", "specificity": "specificity",
          "ppv": "PPV (precision)", "npv": "NPV", "f1": "F1", "auc": "AUC"}


@st.cache_data(max_entries=16, show_spinner="Predicting the split…")
def _outputs(path: str, sha256: str, fingerprint: str, split: str, _dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    loaded, lock = loaded_model(Path(path), sha256)
    with lock:
        return predict_split(loaded, _dataset, split)


@st.cache_data(max_entries=32, show_spinner="Computing heat maps…")
def _heatmaps(path: str, sha256: str, fingerprint: str, index: tuple[int, ...], method: str, _dataset: Dataset):
    """Each image's heat map on the model's input, its true mask outlined and its true findings ringed."""
    loaded, lock = loaded_model(Path(path), sha256)
    with lock:
        heat, inputs, masks = explain_images(loaded, _dataset, np.asarray(index), method)
    pictures = [explanation_picture(inputs[k], heat[k], None if masks is None else masks[k]) for k in range(len(index))]
    if _dataset.findings is not None:  # in the data set's pixels: onto the model's input
        pictures = [draw_findings(p, _dataset.findings[i], scale=p.shape[0] / _dataset.image_size[0])
                    for p, i in zip(pictures, index, strict=True)]
    return pictures


def _gallery_legend(dataset: Dataset) -> str:
    """What the error pictures show, in the order it is drawn."""
    parts = ["the heat map: where the evidence for the predicted class lies (warm colours: most)"]
    if dataset.masks is not None:
        parts.append("green outline: the true finding's mask")
    if dataset.findings is not None:
        parts.append("yellow ring: the true finding's place and size")
    return "; ".join(parts) + "."


@st.cache_data(max_entries=64, show_spinner=False)
def _table(labels: np.ndarray, outputs: np.ndarray, threshold: float) -> dict:
    return metrics_with_intervals(labels, outputs, threshold)


def _key(stored: StoredModel) -> tuple[str, str]:
    return str(stored.path), stored.card.sha256


def _metrics_frame(metrics: dict) -> pd.DataFrame:
    rows = [{"metric": LABELS[name], "estimate": metrics[name], "95% CI low": metrics[f"{name}_ci"][0],
             "95% CI high": metrics[f"{name}_ci"][1]} for name in METRICS]
    return pd.DataFrame(rows)


def _set_threshold(value: float) -> None:
    state.remember(state.THRESHOLD, value)


def _operating_point(labels: np.ndarray, scores: np.ndarray, stored: StoredModel) -> float:
    """The threshold slider (starting at the model card's threshold, chosen on validation), and buttons that set it
    to the card's, by Youden's J on this split, to 0.5, or to a target sensitivity or specificity."""
    card_threshold = stored.card.threshold_value
    if st.session_state.get(state.THRESHOLD_OF) != str(stored.path):  # a newly chosen model starts at its own
        state.remember(state.THRESHOLD_OF, str(stored.path))
        state.remember(state.THRESHOLD, round(card_threshold, 3))
    threshold = st.slider("Threshold on the probability of " + "the positive class", 0.0, 1.0, step=0.001,
                          format="%.3f", key=state.THRESHOLD)
    a, b, c, d = st.columns(4)
    a.button(f"Model card's ({card_threshold:.3f})", key="ev_card", on_click=_set_threshold,
             args=(round(card_threshold, 3),), help="the threshold recorded when the model was trained (chosen on "
                                                    "its validation images), or 0.5 where it records none")
    a.button("Youden's J here", key="ev_youden", on_click=_set_threshold,
             args=(round(youden_threshold(labels, scores, step=0.001), 3),),
             help="maximise sensitivity + specificity on this split (optimistic: chosen on the images it scores)")
    b.button("Default 0.5", key="ev_half", on_click=_set_threshold, args=(0.5,))
    target = c.number_input("Target", 0.5, 1.0, 0.9, 0.01, key="ev_target", label_visibility="collapsed")
    sensitive = math.floor(threshold_for(labels, scores, sensitivity=target) * 1000) / 1000
    specific = math.ceil(threshold_for(labels, scores, specificity=target) * 1000) / 1000
    d.button(f"Sensitivity ≥ {target:.2f}", key="ev_sens", on_click=_set_threshold, args=(min(1.0, sensitive),))
    d.button(f"Specificity ≥ {target:.2f}", key="ev_spec", on_click=_set_threshold, args=(min(1.0, specific),))
    return float(threshold)


def _curve_figures(labels: np.ndarray, outputs: np.ndarray, class_names: list[str], metrics: dict) -> list:
    if len(class_names) == 2:
        c = curves(labels, outputs)
        point = (1.0 - metrics["specificity"], metrics["sensitivity"])
        roc = roc_figure({f"AUC {metrics['auc']:.3f}": (c.fpr, c.tpr, c.roc_thresholds)}, point)
        pr = pr_figure({f"AP {c.average_precision:.3f}": (c.recall, c.precision)})
    else:
        present = [k for k in range(len(class_names)) if 0 < np.sum(labels == k) < labels.size]
        per_class = {k: curves(labels, outputs, k) for k in present}
        macro = metrics["auc"] if metrics["auc"] is not None else float("nan")
        roc = roc_figure({class_names[k]: (c.fpr, c.tpr, c.roc_thresholds) for k, c in per_class.items()},
                         title=f"ROC (one vs rest) · macro AUC {macro:.3f}")
        pr = pr_figure({f"{class_names[k]} (AP {c.average_precision:.3f})": (c.recall, c.precision)
                        for k, c in per_class.items()})
    return [roc, pr, calibration_figure(calibration(labels, outputs))]


def _gallery(stored, dataset, index, labels, predicted, scores, class_names) -> list[GalleryItem]:
    """The errors with their heat maps and the truth drawn, the most confident first; also for the report."""
    st.subheader("Errors, with what the model looked at")
    method = st.selectbox("Heat map", METHODS, key="ev_method", format_func=METHOD_LABELS.get)
    st.caption(_gallery_legend(dataset))
    wrong = np.flatnonzero(labels != predicted)
    if len(class_names) == 2:
        groups = {"False positives": wrong[predicted[wrong] == 1], "False negatives": wrong[predicted[wrong] == 0]}
    else:
        groups = {"Misclassified": wrong}
    items = []
    for title, members in groups.items():
        st.markdown(f"**{title}** ({members.size})")
        if members.size == 0:
            st.caption("none at this threshold")
            continue
        members = members[np.argsort(-np.abs(scores[members] - 0.5))][:GALLERY]  # the most confident errors first
        pictures = _heatmaps(*_key(stored), dataset.fingerprint, tuple(int(index[k]) for k in members), method,
                             dataset)
        columns = st.columns(4)
        for n, (k, picture) in enumerate(zip(members, pictures, strict=True)):
            caption = (f"{dataset.ids[index[k]]} · true {class_names[labels[k]]} · predicted "
                       f"{class_names[predicted[k]]} ({scores[k]:.2f})")
            columns[n % 4].image(enlarge(picture, 192), caption=caption)
            items.append(GalleryItem(picture, f"{title[:-1].lower()}: {caption}"))
    return items


def _card_facts(stored: StoredModel) -> dict[str, object]:
    """The model card's facts a reader of the report needs, one line each."""
    card = stored.card
    facts: dict[str, object] = {
        "model": stored.name, "task": card.spec.title, "architecture": card.architecture,
        "input": " × ".join(str(v) for v in card.input_shape), "classes": ", ".join(card.class_names),
        "trained on": f"{card.dataset.get('name')} (fingerprint {card.dataset.get('fingerprint')})",
        "created": card.created or "—"}
    if card.threshold:
        facts["decision threshold"] = f"{card.threshold['value']:.3f} (chosen on {card.threshold['chosen_on']})"
    if card.calibration:
        facts["calibration"] = calibration_line(card.calibration)
    if card.population:
        facts["population"] = card.population
    facts["intended use"] = card.intended_use
    return facts


def _froc_figures(stored: StoredModel, dataset: Dataset, split: str) -> list:
    """The FROC of each kind of finding, where the model places them and the set has them (else none)."""
    if stored.card.located_by != "heat map" or dataset.findings is None:
        return []
    metrics, _ = scored(str(stored.path), stored.card.sha256, dataset.fingerprint, split, dataset)
    return [froc_figure(d["froc"], f"FROC: {label}") for label, d in metrics["detection"].items() if d["froc"]]


def evaluate_tab(stored: StoredModel, dataset: Dataset, split: str) -> None:
    index, outputs = _outputs(*_key(stored), dataset.fingerprint, split, dataset)
    class_names = stored.card.class_names or dataset.class_names
    labels = model_labels(class_names, dataset)[index]
    binary = len(class_names) == 2
    probabilities = np.asarray(outputs).reshape(len(index), -1)
    scores = probabilities[:, 0] if binary else probabilities.max(axis=1)
    threshold = _operating_point(labels, scores, stored) if binary and 0 < labels.sum() < labels.size else 0.5
    metrics = _table(labels, outputs, threshold)
    predicted = predicted_classes(outputs, threshold)
    table = _metrics_frame(metrics)
    left, right = st.columns([3, 2])
    formats = {c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]}
    left.dataframe(table, hide_index=True, width="stretch", column_config=formats)
    left.caption(f"{metrics['n']} images of the {split} split · 95% percentile bootstrap intervals "
                 "(1,000 resamples, seed 0)" + ("" if binary else " · macro averages over classes"))
    normalized = right.toggle("Row-normalised", key="ev_normalized")
    matrix = confusion(labels, outputs, threshold)
    right.plotly_chart(confusion_heatmap(matrix, class_names, normalized), key="ev_confusion")
    figures = _curve_figures(labels, outputs, class_names, metrics)
    for column, figure, name in zip(st.columns(3), figures, ("roc", "pr", "calibration"), strict=True):
        column.plotly_chart(figure, key=f"ev_{name}")
    gallery = _gallery(stored, dataset, index, labels, predicted, scores, class_names)
    st.subheader("Download")
    csv = predictions_table([dataset.ids[i] for i in index], labels, outputs, class_names, threshold)
    facts = {"model": stored.name, "architecture": stored.card.architecture, "data set": dataset.name,
             "data set fingerprint": dataset.fingerprint, "trained on fingerprint":
             stored.card.dataset.get("fingerprint"), "split": split, "images": len(index),
             "threshold": threshold if binary else "most probable class"}
    report = evaluation_report(f"Evaluation of {stored.name} on {dataset.name} ({split})", table,
                               [confusion_heatmap(matrix, class_names, False), *figures,
                                *_froc_figures(stored, dataset, split)],
                               facts, _card_facts(stored), gallery, _gallery_legend(dataset))
    raw = json.dumps({"model card": stored.card.to_dict(), "data set": dataset.summary()}, indent=2, default=str)
    a, b, c = st.columns(3)
    a.download_button("Predictions (.csv)", csv.to_csv(index=False), f"{stored.name}-{split}-predictions.csv",
                      "text/csv", key="ev_csv", icon=":material/download:")
    b.download_button("Report (.html)", report, f"{stored.name}-{split}-report.html", "text/html", key="ev_report",
                      icon=":material/download:")
    c.download_button("Model card and data set (.json)", raw, f"{stored.name}-{split}-card.json", "application/json",
                      key="ev_raw", icon=":material/download:")


def compare_tab(first: StoredModel, others: list[StoredModel], dataset: Dataset, split: str) -> None:
    if not others:
        st.info("Train or upload a second classifier of the same classes to compare it with this one.",
                icon=":material/info:")
        return
    other = st.selectbox("Compare with", [m.name for m in others], key="ev_other")
    second = next(m for m in others if m.name == other)
    index, a = _outputs(*_key(first), dataset.fingerprint, split, dataset)
    _, b = _outputs(*_key(second), dataset.fingerprint, split, dataset)
    labels = model_labels(first.card.class_names or dataset.class_names, dataset)[index]
    thresholds = [m.card.threshold_value for m in (first, second)]
    result = compare(labels, a, b, *thresholds)
    metrics_a, metrics_b = _table(labels, a, thresholds[0]), _table(labels, b, thresholds[1])
    rows = []
    for name in ("auc", "accuracy"):
        rows.append({"metric": LABELS[name], first.name: metrics_a[name], second.name: metrics_b[name],
                     "difference (B − A)": result[f"{name}_difference"],
                     "95% CI": "–".join(f"{v:+.3f}" for v in result[f"{name}_difference_ci"] if v is not None),
                     "p-value": result[f"{name}_p_value"]})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    significant = result["auc_p_value"] is not None and result["auc_p_value"] < 0.05
    verdict = "differ" if significant else "do not differ detectably"
    st.caption(f"Paired bootstrap over the same {len(index)} images ({result['resamples']:,} resamples; two-sided "
               f"p-value; accuracy at each model card's threshold, {thresholds[0]:.3f} and {thresholds[1]:.3f}): "
               f"the AUCs {verdict} at the 5% level.")
    if len(first.card.class_names) == 2 and 0 < labels.sum() < labels.size:
        pairs = {m.name: curves(labels, out) for m, out in ((first, a), (second, b))}
        st.plotly_chart(roc_figure({n: (c.fpr, c.tpr, c.roc_thresholds) for n, c in pairs.items()},
                                   title="ROC of both models"), key="ev_compare_roc")


VIEWS = {"segmentation": segmentation_tab, "localization": localization_tab}  # each map task's view (Task.view)

st.title("Evaluation")
st.caption(DISCLAIMER)
dataset = state.active_dataset()
fitting = [m for m in shelf().models() if m.card.dimensions == 2 and m.card.spec.has_targets(dataset)]
if state.volume_set() is not None:  # the 3-D set the Upload page shows
    volume_evaluation(state.volume_set(), shelf().models())
elif not fitting:
    st.info(f"No model in the store learns from what the active data set, {dataset.name}, holds: train one on the "
            "**Training** page, upload one in its Model store tab, or load another set on the Upload page.",
            icon=":material/info:")
else:
    names = [m.name for m in fitting]
    active = state.active_model()
    splits = [s for s in SPLITS if dataset.indices(s).size]
    left, right = st.columns(2)
    chosen = left.selectbox("Model", names, index=names.index(active) if active in names else 0, key="ev_model",
                            format_func=lambda name: f"{name} ({fitting[names.index(name)].card.spec.title})")
    split = right.selectbox(f"Split of {dataset.name}", splits, key="ev_split",
                            index=splits.index("test") if "test" in splits else 0)
    stored = fitting[names.index(chosen)]
    fold_spread(stored)
    try:
        view = stored.card.spec.view
        if view != "classification":
            VIEWS[view](stored, dataset, split)
        else:
            classifiers = [m for m in fitting if m.card.spec == stored.card.spec]
            located = stored.card.located_by == "heat map" and dataset.findings is not None
            binary = len(stored.card.class_names) == 2
            sections = st.tabs(["Evaluate", "Compare two models", *(["Located findings"] if located else []),
                                *(["Fit to this site"] if binary else [])])
            with sections[0]:
                evaluate_tab(stored, dataset, split)
            with sections[1]:
                others = [m for m in classifiers if m.name != chosen and len(m.card.class_names) ==
                          len(dataset.class_names)]
                compare_tab(stored, others, dataset, split)
            if located:
                with sections[2]:
                    st.caption(f"Candidates: the peaks of {stored.name}'s heat map for {stored.card.finding}, each "
                               "scored by the film's probability times the heat there.")
                    localization_tab(stored, dataset, split)
            if binary:
                with sections[-1]:
                    site_tab(stored, dataset)
    except MedlibError as exc:
        st.error(str(exc), icon=":material/error:")
