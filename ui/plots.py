"""Plotly figures of the pages (every chart is plotly)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from medlib.datasets import SPLITS, Dataset
from medlib.image import Window


def histogram(values: np.ndarray, window: Window | None = None, bins: int = 128) -> go.Figure:
    """Histogram of pixel values, with the display window's ends marked."""
    finite = values[np.isfinite(values)]
    counts, edges = np.histogram(finite, bins=bins) if finite.size else (np.zeros(1), np.array([0.0, 1.0]))
    centers = (edges[:-1] + edges[1:]) / 2.0
    figure = go.Figure(
        go.Bar(x=centers, y=counts, marker_color="#4c78a8", hovertemplate="%{x:.4g}: %{y}<extra></extra>")
    )
    if window is not None:
        for x, name, side in ((window.low, "low", "top left"), (window.high, "high", "top right")):
            figure.add_vline(
                x=x, line_dash="dash", line_color="#e45756", annotation_text=name, annotation_position=side
            )
    figure.update_layout(
        height=260, margin=dict(l=10, r=10, t=30, b=10), bargap=0, xaxis_title="value", yaxis_title="pixels"
    )
    return figure


def class_balance(dataset: Dataset) -> go.Figure:
    """Images per class (or per mask state) in each split, as grouped bars."""
    counts = dataset.counts()
    figure = go.Figure()
    for split in SPLITS:
        figure.add_trace(go.Bar(name=split, x=list(counts[split]), y=list(counts[split].values())))
    figure.update_layout(
        barmode="group", height=280, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="images", legend_title="split"
    )
    return figure


def training_curves(epochs: list[dict]) -> go.Figure:
    """Loss (train and validation) and the validation metrics per epoch, side by side."""
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "validation metrics"))
    x = [e["epoch"] for e in epochs]
    figure.add_trace(go.Scatter(x=x, y=[e["loss"] for e in epochs], name="train loss", mode="lines+markers"), 1, 1)
    if any(e.get("val_loss") == e.get("val_loss") for e in epochs):  # NaN for segmentation
        figure.add_trace(go.Scatter(x=x, y=[e.get("val_loss") for e in epochs], name="val loss",
                                    mode="lines+markers"), 1, 1)  # fmt: skip
    for key in ("val_auc", "val_dice", "val_accuracy", "val_sensitivity", "val_specificity"):
        if epochs and key in epochs[-1]:
            figure.add_trace(go.Scatter(x=x, y=[e.get(key) for e in epochs], name=key[4:], mode="lines+markers"), 1, 2)
    figure.update_layout(height=340, margin=dict(l=10, r=10, t=60, b=10),
                         legend=dict(orientation="h", y=1.18, x=0))  # fmt: skip
    figure.update_xaxes(title_text="epoch", dtick=1 if len(epochs) <= 20 else None)
    return figure
