"""Plotly figures of the pages (every chart is plotly)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from medlib.datasets import SPLITS, Dataset
from medlib.input.image import Window


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
    """Loss (train and validation) and the validation metrics per epoch, side by side, with the epoch whose
    weights the run keeps marked by a dotted line."""
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "validation metrics"))
    x = [e["epoch"] for e in epochs]
    figure.add_trace(go.Scatter(x=x, y=[e["loss"] for e in epochs], name="train loss", mode="lines+markers"), 1, 1)
    if any(e.get("val_loss") is not None and e["val_loss"] == e["val_loss"] for e in epochs):  # NaN or none: no trace
        figure.add_trace(go.Scatter(x=x, y=[e.get("val_loss") for e in epochs], name="val loss",
                                    mode="lines+markers"), 1, 1)
    watched = ("val_auc", "val_dice", "val_cpm", "val_detection", "val_accuracy", "val_sensitivity", "val_specificity")
    for key in watched:
        if epochs and key in epochs[-1]:
            figure.add_trace(go.Scatter(x=x, y=[e.get(key) for e in epochs], name=key[4:], mode="lines+markers"), 1, 2)
    figure.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10),  # the legend below: titles stay clear
                         legend=dict(orientation="h", y=-0.28, x=0))
    figure.update_xaxes(title_text="epoch", dtick=1 if len(epochs) <= 20 else None)
    kept = epochs[-1].get("kept_epoch", -1) if epochs else -1
    if kept > 0:
        figure.add_vline(x=kept, line_dash="dot", line_color="gray", annotation_text=f"kept: epoch {kept}",
                         annotation_position="top left", row=1, col=1)
        figure.add_vline(x=kept, line_dash="dot", line_color="gray", row=1, col=2)
    return figure


def _square(figure: go.Figure, x_title: str, y_title: str, title: str) -> go.Figure:
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), title=title,
                         legend=dict(orientation="h", y=-0.2, x=0))
    figure.update_xaxes(title_text=x_title, range=[0, 1], constrain="domain")
    figure.update_yaxes(title_text=y_title, range=[0, 1.02], scaleanchor="x", scaleratio=1)
    return figure


def confusion_heatmap(matrix: np.ndarray, class_names: list[str], normalized: bool) -> go.Figure:
    """The confusion matrix as a heat map: counts, or each row as the share of its true class."""
    values = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalized else matrix
    text = [[f"{v:.2f}" if normalized else f"{int(v)}" for v in row] for row in values]
    figure = go.Figure(go.Heatmap(
        z=values, x=class_names, y=class_names, text=text, texttemplate="%{text}", colorscale="Blues",
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>", showscale=False,
    ))
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10),
                         title="confusion matrix" + (" (row-normalised)" if normalized else " (counts)"))
    figure.update_xaxes(title_text="predicted", side="bottom")
    figure.update_yaxes(title_text="true", autorange="reversed")
    return figure


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], point: tuple[float, float] | None = None,
               title: str = "ROC") -> go.Figure:
    """ROC curves by name (false-positive rate, true-positive rate, thresholds), chance line and operating point."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="gray"),
                                name="chance", hoverinfo="skip"))
    for name, (fpr, tpr, thresholds) in curves.items():
        figure.add_trace(go.Scatter(
            x=fpr, y=tpr, mode="lines", name=name, customdata=thresholds,
            hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<br>threshold %{customdata:.3f}<extra>%{fullData.name}</extra>",
        ))
    if point is not None:
        figure.add_trace(go.Scatter(x=[point[0]], y=[point[1]], mode="markers", name="operating point",
                                    marker=dict(size=12, color="#e45756", symbol="x")))
    return _square(figure, "false-positive rate (1 - specificity)", "sensitivity", title)


def pr_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "precision-recall") -> go.Figure:
    """Precision-recall curves by name (recall, precision)."""
    figure = go.Figure()
    for name, (recall, precision) in curves.items():
        figure.add_trace(go.Scatter(x=recall, y=precision, mode="lines", name=name,
                                    hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>"))
    return _square(figure, "recall (sensitivity)", "precision (PPV)", title)


def calibration_figure(calibration: dict) -> go.Figure:
    """Reliability diagram: observed rate against mean confidence per bin (marker size: images in the bin)."""
    count = np.asarray(calibration["count"])
    keep = count > 0
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="gray"),
                                name="perfectly calibrated", hoverinfo="skip"))
    figure.add_trace(go.Scatter(
        x=np.asarray(calibration["confidence"])[keep], y=np.asarray(calibration["observed"])[keep],
        mode="lines+markers", name="model", customdata=count[keep],
        marker=dict(size=6 + 14 * np.sqrt(count[keep] / count.max())),
        hovertemplate="confidence %{x:.2f}<br>observed %{y:.2f}<br>%{customdata} images<extra></extra>",
    ))
    title = f"calibration · Brier {calibration['brier']:.3f} · ECE {calibration['ece']:.3f}"
    return _square(figure, "predicted probability", "observed frequency", title)
