"""The downloadable evaluation report: one self-contained HTML page of a few hundred KB that prints in a few pages.

The page's plotly figures are drawn again as still pictures with matplotlib (inlining plotly's script would add
about 4.5 MB to each report, and a report must open without a network); the gallery's pictures are small JPEGs.
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

DISCLAIMER = (
    "Research tool, not a medical device. These figures describe a model on one data set split; "
    "they are not evidence of clinical performance and must not guide the care of any patient."
)
GALLERY_SIDE = 160
"""The side, in pixels, of a gallery picture in the report."""


@dataclass(frozen=True)
class GalleryItem:
    """One picture of the report's error gallery (uint8 RGB) and what it shows."""

    picture: np.ndarray
    caption: str


def _title(value: object) -> str:
    text = getattr(value, "text", value)
    return "" if text is None else str(text)


def still_picture(figure: go.Figure) -> bytes:
    """A plotly line chart or heat map of the pages drawn again as a PNG (see :func:`still_drawing`)."""
    from matplotlib import pyplot

    drawing = still_drawing(figure)
    buffer = io.BytesIO()
    drawing.savefig(buffer, format="png")
    pyplot.close(drawing)
    return buffer.getvalue()


def still_drawing(figure: go.Figure):
    """A matplotlib figure of a plotly line chart or heat map of the pages: its traces, titles, axes and legend, a
    heat map's cells written and its rows and columns named."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    drawing, axes = pyplot.subplots(figsize=(4.6, 3.8), dpi=90)
    layout = figure.layout
    for trace in figure.data:
        if isinstance(trace, go.Heatmap):
            values = np.asarray(trace.z, float)
            axes.imshow(values, cmap="Blues")
            axes.set_xticks(range(len(trace.x)), [str(v) for v in trace.x])
            axes.set_yticks(range(len(trace.y)), [str(v) for v in trace.y])
            top = values.max() if values.size else 0
            for (row, column), text in np.ndenumerate(np.asarray(trace.text, object)):
                axes.text(column, row, text, ha="center", va="center",
                          color="white" if values[row, column] > top / 2 else "black")
            continue
        x, y = np.asarray(trace.x, float), np.asarray(trace.y, float)
        dashed = trace.line is not None and trace.line.dash in ("dot", "dash")
        marker = "o" if trace.mode and "markers" in trace.mode else None
        style = {"linestyle": ":" if dashed else "-" if trace.mode and "lines" in trace.mode else "none",
                 "marker": "x" if trace.marker is not None and trace.marker.symbol == "x" else marker,
                 "markersize": 4 if marker else 8, "color": trace.line.color if dashed else None}
        error = trace.error_y
        if error is not None and error.array is not None:
            axes.errorbar(x, y, yerr=[np.asarray(error.arrayminus, float), np.asarray(error.array, float)],
                          label=trace.name, capsize=2, **style)
        else:
            axes.plot(x, y, label=trace.name, **style)
    if any(isinstance(t, go.Scatter) and t.name for t in figure.data):
        axes.legend(fontsize=7, loc="best")
    if layout.xaxis.type == "log":
        axes.set_xscale("log")
    axes.set_title(_title(layout.title), fontsize=9)
    axes.set_xlabel(_title(layout.xaxis.title), fontsize=8)
    axes.set_ylabel(_title(layout.yaxis.title), fontsize=8)
    axes.tick_params(labelsize=7)
    drawing.tight_layout()
    return drawing


def _image(data: bytes, kind: str, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" src="data:image/{kind};base64,{base64.b64encode(data).decode()}">')


def _gallery_html(items: Sequence[GalleryItem], legend: str) -> str:
    cells = []
    for item in items:
        side = max(item.picture.shape[:2])
        small = cv2.resize(item.picture, None, fx=GALLERY_SIDE / side, fy=GALLERY_SIDE / side,
                           interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        cells.append(f"<figure>{_image(jpeg.tobytes(), 'jpeg', item.caption)}"
                     f"<figcaption>{html.escape(item.caption)}</figcaption></figure>")
    return f'<p>{html.escape(legend)}</p><div class="gallery">{"".join(cells)}</div>' if cells else \
        "<p>No errors at this threshold.</p>"


def _rows(facts: dict[str, object]) -> str:
    return "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())


def evaluation_report(title: str, metrics: pd.DataFrame, figures: Sequence[go.Figure], facts: dict[str, object],
                      card_facts: dict[str, object], gallery: Sequence[GalleryItem] = (), legend: str = "") -> str:
    """An HTML page: the facts, the metrics with their intervals (three decimals), the plots as still pictures
    (each with its labels), the error gallery with the truth drawn, and the model card's facts as a short table."""
    charts = "".join(_image(still_picture(figure), "png", _title(figure.layout.title)) for figure in figures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
.warn{{background:#fff3cd;border:1px solid #e0c36b;padding:0.8em}}
.plots img{{width:32%;margin:0.5%}}.gallery{{display:flex;flex-wrap:wrap;gap:8px}}
figure{{margin:0;width:{GALLERY_SIDE}px;font-size:11px}}@media print{{.plots img{{width:45%}}}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="warn">{html.escape(DISCLAIMER)}</p>
<p>Written {time.strftime("%Y-%m-%d %H:%M:%S %Z")}.</p>
<table>{_rows(facts)}</table>
<h2>Metrics with 95% bootstrap confidence intervals</h2>
{metrics.to_html(index=False, na_rep="—", float_format=lambda v: f"{v:.3f}")}
<h2>Plots</h2>
<div class="plots">{charts}</div>
<h2>Errors, with the truth drawn</h2>
{_gallery_html(gallery, legend)}
<h2>The model</h2>
<table>{_rows(card_facts)}</table>
<p>The whole model card and the data set's summary are a separate download (JSON).</p>
</body></html>
"""
