"""The downloadable evaluation report: one self-contained HTML file (plotly inlined once, no network needed)."""

from __future__ import annotations

import html
import json
import time
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from medlib.store.card import ModelCard

DISCLAIMER = (
    "Research tool, not a medical device. These figures describe a model on one data set split; "
    "they are not evidence of clinical performance and must not guide the care of any patient."
)


def evaluation_report(title: str, metrics: pd.DataFrame, figures: list[go.Figure], card: ModelCard,
                      dataset: dict[str, Any], facts: dict[str, Any]) -> str:
    """An HTML page with the facts, the metrics table with intervals, the plots and the model card."""
    charts = "".join(
        figure.to_html(full_html=False, include_plotlyjs=k == 0, config={"displaylogo": False})
        for k, figure in enumerate(figures)
    )
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
.warn{{background:#fff3cd;border:1px solid #e0c36b;padding:0.8em}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="warn">{html.escape(DISCLAIMER)}</p>
<p>Written {time.strftime("%Y-%m-%d %H:%M:%S %Z")}.</p>
<table>{rows}</table>
<h2>Metrics with 95% bootstrap confidence intervals</h2>
{metrics.to_html(index=False, na_rep="—", float_format=lambda v: f"{v:.4f}")}
<h2>Plots</h2>
{charts}
<h2>Data set</h2>
<pre>{html.escape(json.dumps(dataset, indent=2, default=str))}</pre>
<h2>Model card</h2>
<pre>{html.escape(json.dumps(card.to_dict(), indent=2, default=str))}</pre>
</body></html>
"""
