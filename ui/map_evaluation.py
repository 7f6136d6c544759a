"""The Evaluation page for map models: a segmenter's figures per structure, and a locating model's FROC curve with
the films where it missed a finding or called a false candidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from medlib.datasets import Dataset
from medlib.display.drawing import draw_findings, enlarge, scale_to_uint8
from medlib.models.loaded import check_fit
from medlib.scoring.candidates import hit_margin, hits
from medlib.scoring.evaluate import score_outputs, split_index, split_outputs
from medlib.scoring.splits import SplitOutputs
from medlib.store.folders import StoredModel
from medlib.targets import Finding
from ui.intervals import with_interval
from ui.models import loaded_entry, loaded_model

GALLERY = 8
FIGURES = ("dice", "iou", "sensitivity", "specificity", "hd95", "auc")


@st.cache_data(max_entries=8, show_spinner="Predicting the split…")
def scored(path: str, sha256: str, fingerprint: str, split: str, _dataset: Dataset) -> tuple[dict, SplitOutputs]:
    loaded, lock = loaded_model(Path(path), sha256)
    with lock:
        check_fit(loaded, _dataset)
        outputs = split_outputs(loaded, _dataset, split_index(_dataset, split))
    metrics = score_outputs(loaded, _dataset, outputs, structures=loaded.card.structures)
    return metrics, outputs


def fold_table(folds: list[dict]) -> pd.DataFrame:
    """One row per fold: its images, the epoch it kept, and its headline validation figures, one column each, at
    three decimals (a detector's image AUC only where it is not the classifier's AUC itself)."""
    rows = []
    for fold in folds:
        val = fold["val"]
        detection = next(iter(val.get("detection", {}).values()), {})
        image_auc = detection.get("image_auc")
        figures = {"AUC": val.get("auc"), "Dice": val.get("dice"),
                   "image AUC": None if image_auc is not None and image_auc == val.get("auc") else image_auc,
                   "sensitivity at 1 FP": detection.get("sensitivity_at_1fp"), "CPM": detection.get("cpm")}
        rows.append({"fold": fold["fold"], "train": fold["train_images"], "validation": fold["val_images"],
                     "kept epoch": fold["kept_epoch"],
                     **{k: f"{v:.3f}" for k, v in figures.items() if v is not None}})
    return pd.DataFrame(rows)


def fold_spread(stored: StoredModel) -> None:
    """The spread of a cross-validated model's folds, from its card (nothing for a model of one split)."""
    folds = stored.card.metrics.get("folds")
    if folds:
        with st.expander(f"Its {len(folds)} folds, each on its own validation images (from its card)"):
            st.dataframe(fold_table(folds), hide_index=True, width="stretch")
            st.caption("The spread says how far one small validation split can be trusted; the model is their "
                       "ensemble, calibrated and thresholded on their pooled out-of-fold predictions.")


def _row(name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"structure": name, **{metric: with_interval(values.get(metric), values.get(f"{metric}_ci"))
                                  for metric in FIGURES}}


def segmentation_tab(stored: StoredModel, dataset: Dataset, split: str) -> None:
    """Each structure's Dice, IoU, sensitivity, specificity, HD95 (pixels) and pixel AUC with their intervals."""
    metrics, _ = scored(str(stored.path), stored.card.sha256, dataset.fingerprint, split, dataset)
    each = metrics.get("per_structure") or {stored.card.structures[0]: metrics}
    rows = [_row(name, values) for name, values in each.items()]
    if len(each) > 1:
        rows.append(_row("mean of the structures", metrics))
    st.dataframe(pd.DataFrame(rows).set_index("structure"), width="stretch")
    st.caption(f"{metrics['n']} images of the {split} split · each figure per image, then averaged, with its 95% "
               "percentile bootstrap interval over images (1,000 resamples, seed 0) · HD95 in pixels of the model's "
               "input")


def froc_figure(points: list[list[float]], title: str) -> go.Figure:
    """The FROC curve: the share of findings found against false positives per image (log scale), with intervals."""
    rates, found, low, high = (np.array(v, float) for v in zip(*points, strict=True))
    figure = go.Figure(go.Scatter(x=rates, y=found, mode="lines+markers", name="sensitivity",
                                  error_y={"type": "data", "array": high - found, "arrayminus": found - low}))
    figure.update_layout(title=title, height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         xaxis={"type": "log", "title": "false positives per image"},
                         yaxis={"range": [0, 1.02], "title": "share of findings found"})
    return figure


def _films(called: list[list[Finding]], findings: list[list[Finding]], margin: float) -> tuple[list[int], list[int]]:
    """The films (positions) with a finding no called candidate hits, and those with a called candidate that hits
    no finding."""
    missed, false = [], []
    for k, (marks, truths) in enumerate(zip(called, findings, strict=True)):
        if any(not any(hits(c, f, margin) for c in marks) for f in truths):
            missed.append(k)
        if any(not any(hits(c, f, margin) for f in truths) for c in marks):
            false.append(k)
    return missed, false


def localization_tab(stored: StoredModel, dataset: Dataset, split: str) -> None:
    """The FROC curve and the detection figures of each kind of finding, and the films it missed a finding on or
    called a false candidate on (the findings in yellow, the called candidates in red)."""
    loaded, _ = loaded_entry(stored)
    metrics, outputs = scored(str(stored.path), stored.card.sha256, dataset.fingerprint, split, dataset)
    threshold = stored.card.threshold_value
    for label, detection in metrics["detection"].items():
        left, right = st.columns([3, 2])
        left.plotly_chart(froc_figure(detection["froc"], f"FROC: {label}"), key=f"ev_froc_{label}")
        rows = [{"figure": f"sensitivity at {rate:g} FP/image", "estimate": sens, "95% CI": f"{low:.3f}–{high:.3f}"}
                for rate, sens, low, high in detection["froc"]]
        if "image_auc" in detection:
            low, high = detection["image_auc_ci"]
            rows.append({"figure": "image-level AUC", "estimate": detection["image_auc"], "95% CI": f"{low:.3f}–"
                                                                                               f"{high:.3f}"})
        right.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        right.caption(f"{detection['findings']} {label}s on {detection['images']} films of the {split} split; a "
                      f"candidate hits when its centre lies within the {label}'s radius plus "
                      f"{detection['hit_margin_px']:.1f} pixels (5 mm where the spacing is known); 95% bootstrap "
                      "intervals over films")
        called = [[c for c in image if c.score >= threshold] for image in outputs.scored(label,
                                                                                         loaded.image_calibration)]
        missed, false = _films(called, outputs.findings[label], hit_margin(outputs.spacing))
        st.markdown(f"**At its threshold ({threshold:.2f})**: {len(missed)} film(s) with a missed {label}, "
                    f"{len(false)} with a false candidate. Yellow: the {label}; red: the candidates it calls.")
        shown = (missed + [k for k in false if k not in missed])[:GALLERY]
        columns = st.columns(4)
        for n, k in enumerate(shown):
            i = int(outputs.index[k])
            picture = scale_to_uint8(loaded.pipeline.apply(dataset.images[i])[0][..., 0])
            picture = draw_findings(picture, outputs.findings[label][k])
            marks = [Finding(label, c.centre, c.radius) for c in called[k]]
            picture = draw_findings(picture, marks, color=(255, 64, 64), numbered=True)
            why = ("missed" if k in missed else "") + (" · false candidate" if k in false else "")
            columns[n % 4].image(enlarge(picture, 192), caption=f"{dataset.ids[i]} · {why.strip(' ·')}")
