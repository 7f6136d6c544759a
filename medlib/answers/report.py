"""The answer as one self-contained HTML page, to keep, send or print to PDF from a browser: the picture (embedded,
no fetch), each model's answer beside the population it learned from and its threshold, the findings, the
measurements, the gate's verdict, the models' card facts and the disclaimer. It opens offline: no script, no
stylesheet or font from elsewhere."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np

from medlib.answers.diagnosis import Diagnosis
from medlib.answers.volume_diagnose import VolumeDiagnosis
from medlib.display.drawing import as_rgb, draw_label_map, enlarge, scale_to_uint8
from medlib.store.card import ModelCard

DISCLAIMER = ("Research tool, not a medical device. No result here may guide the care of a patient; each model "
              "answers only for images like those it learned from (see its population below).")
ROLES = {"classifier": "Classifier", "segmenter": "Segmenter", "locator": "Finding locator"}
_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:980px;margin:24px auto;color:#1d2330;
padding:0 16px}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccd;padding:4px 10px;text-align:left}
th{background:#eef0f5}.warn{background:#fff4d6;border:1px solid #e0b84c;padding:8px 12px}
.refused{background:#fde3e3;border:1px solid #d66;padding:8px 12px}img{max-width:100%;border:1px solid #ccd}
.small{color:#556;font-size:.9em}@media print{body{margin:0}}
"""


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<p class='small'>None.</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _picture(picture: np.ndarray) -> str:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(as_rgb(enlarge(picture, 512)), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        return ""
    return f"<img alt='the image with the answer drawn on it' src='data:image/jpeg;base64," \
           f"{base64.b64encode(encoded.tobytes()).decode()}'>"


def volume_picture(data: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A picture of a volume's answer: the slice (along the first axis) holding the most labelled voxels, its
    structures outlined."""
    index = int(np.argmax((labels > 0).reshape(labels.shape[0], -1).sum(axis=1)))
    return draw_label_map(scale_to_uint8(data[index], *np.percentile(data, [1, 99])), labels[index])


def _models(cards: Mapping[str, ModelCard]) -> list[dict[str, Any]]:
    return [{"part": ROLES.get(role, role), "model": card.name, "learned from": card.population or
             card.dataset.get("name", "unknown"), "modality, body part": f"{card.modality or '–'}, "
             f"{card.body_part or '–'}", "threshold": f"{card.threshold_value:.3f}" if card.threshold else "–",
             "written": card.created[:10]} for role, card in cards.items()]


def candidate_rows(result: Diagnosis) -> list[dict[str, Any]]:
    """The called candidates as people read them (numbered as on the picture): score, lung, zone, size (mm where the
    spacing is known, else pixels) and centre."""
    return [{"candidate": n, "score": f"{c.score:.2f}", "lung": c.structure or "outside the lungs",
             "zone": c.zone or "–", "size": f"{size:.0f} mm" if (size := c.size_mm(result.spacing)) else
             f"{2 * c.radius:.0f} px", "centre (x, y)": f"{c.centre[0]:.0f}, {c.centre[1]:.0f}"}
            for n, c in result.called()]


def _film_sections(result: Diagnosis, cards: Mapping[str, ModelCard]) -> list[str]:
    parts = [f"<p class='refused'>Not for this film: {html.escape(fit.reason)}. Its answer is shown below for "
             "reference, and is not part of the conclusion.</p>" for fit in result.population.values() if not fit.fits]
    if result.probabilities:
        classifier = cards.get("classifier")
        verdict = result.predicted if result.fits("classifier") else "no finding (not for this film)"
        parts.append(f"<h2>Classification by {html.escape(classifier.name if classifier else 'the classifier')}</h2>"
                     f"<p><b>{html.escape(str(verdict))}</b>" + (
                         f" (it calls {html.escape(result.class_names[1])} from a probability of "
                         f"{result.decision_threshold:.1%}, its threshold chosen on validation images)"
                         if result.decision_threshold is not None else " (the most probable class)") + "</p>")
        parts.append(_table([{"class": n, "probability": f"{p:.1%}"}
                             for n, p in zip(result.class_names, result.probabilities, strict=True)]))
    candidates = [{"#": row.pop("candidate"), "finding": c.label, **row}
                  for row, (_, c) in zip(candidate_rows(result), result.called(), strict=True)]
    findings = candidates if result.detections else []
    findings += [{"#": f["finding"], "finding": result.lesion_kind, "score": "–", "lung": "–", "zone": "–",
                  "size": f"{f['area_mm2']:.0f} mm²" if f.get("area_mm2") else f"{f['area_px']} px",
                  "centre (x, y)": f"{f['centre'][0]:.0f}, {f['centre'][1]:.0f}"} for f in result.lesions]
    if "locator" in cards or result.lesions:
        locator, called = cards.get("locator"), ""
        if locator is not None and result.finding_threshold is not None:
            own = f"{html.escape(locator.name)}'s own threshold, chosen on validation images"
            cut = own if result.call_threshold is None else \
                f"chosen by the user; {own}, is {result.finding_threshold:.2f}"
            at = result.candidate_threshold
            called = (f"<p>Candidates scoring at least {at:.2f} ({cut}); probability that the image holds a "
                      f"{html.escape(locator.finding)}: {result.finding_probability:.1%}.</p>")
        parts.append(f"<h2>Findings</h2>{called}{_table(findings)}")
        if candidates and not result.detections:
            kind = html.escape(locator.finding if locator is not None else "finding")
            parts.append(f"<h2>Evidence, not detections</h2><p>{html.escape(locator.name if locator else '')} has not "
                         f"shown on validation images that its candidates find {kind}s: the numbered marks show where "
                         f"the evidence for its probability lies, not {kind}s.</p>{_table(candidates)}")
    if result.structure_areas:
        rows = [{"structure": n, "area": f"{a['area_mm2'] / 100:.1f} cm²" if "area_mm2" in a else f"{a['area_px']} px",
                 "outline": f"unreliable: {result.unreliable[n]}" if n in result.unreliable else "plausible"}
                for n, a in result.structure_areas.items()]
        ratio = result.measurements.get("cardiothoracic_ratio")
        extra = (f"<p>Cardiothoracic ratio <b>{ratio:.2f}</b>: {html.escape(result.measurements['reading'])}.</p>"
                 if ratio is not None else "<p>No cardiothoracic ratio: it would rest on an unreliable outline.</p>"
                 if result.unreliable else "")
        parts.append(f"<h2>Measurements</h2>{_table(rows)}{extra}")
    return parts


def report_html(name: str, result: Diagnosis | VolumeDiagnosis, cards: Mapping[str, ModelCard],
                picture: np.ndarray | None = None, notes: Sequence[str] = ()) -> str:
    """The answer about the image ``name`` as a self-contained HTML page; ``picture`` is the image with the answer
    drawn on it (uint8), ``notes`` what else the reader should know (such as what the DICOM answer did), and the
    findings table lists the candidates the diagnosis calls (:meth:`Diagnosis.called`)."""
    gate = result.gate
    parts = [f"<h1>medlib answer: {html.escape(name)}</h1>",
             f"<p class='warn'><b>{html.escape(DISCLAIMER)}</b></p>",
             f"<p class='small'>Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. De-identified: no patient "
             f"identifier is in this report.</p>"]
    if gate.in_distribution:
        parts.append(f"<p>The image looks like those the models learned from (out-of-distribution score "
                     f"{gate.score:.2f}; 1 and above is outside).</p>")
    else:
        parts.append(f"<p class='refused'><b>The image is outside what the models were trained on</b>, so their "
                     f"answers are no finding: {html.escape('; '.join(gate.reasons))} (out-of-distribution score "
                     f"{min(gate.score, 999):.2f}).</p>")
    if picture is not None:
        parts.append(_picture(picture))
    if gate.in_distribution and isinstance(result, VolumeDiagnosis):
        rows = [{"structure": s, "voxels": f"{v['voxels']:,}", "volume": f"{v['volume_ml']:.3f} mL"}
                for s, v in result.volumes.items()]
        parts.append(f"<h2>Structures</h2><p>Voxels of {' × '.join(f'{v:.3g}' for v in result.spacing)} mm.</p>"
                     + _table(rows))
    elif gate.in_distribution:
        parts += _film_sections(result, cards)
    parts.append("<h2>Models</h2>" + _table(_models(cards)))
    parts += [f"<p class='small'><b>{html.escape(card.name)}</b>: {html.escape(card.description or '')} "
              f"{html.escape(card.intended_use)}</p>" for card in cards.values()]
    if notes or result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in [*result.notes, *notes])
                     + "</ul>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>medlib answer: "
            f"{html.escape(name)}</title><style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")
