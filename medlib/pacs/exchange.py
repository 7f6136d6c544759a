"""A study from the PACS to answer, and the answers back: its instances written as files to diagnose (a film or
a multi-frame file as one file, a series of single-frame slices as one folder), and the DICOM answers sent to the
PACS they came from, filed beside the source (same patient and study)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydicom

from medlib.pacs.dicomweb import Pacs

ANSWER_PARTS = ("image", "seg", "sr")
"""The parts of an answer line (:func:`medlib.answers.diagnose_files.diagnose_paths`) that name DICOM objects to
send: the Secondary Capture where one was made, the SEG and the SR."""


def fetch(pacs: Pacs, study: str, folder: Path, series: str | None = None) -> list[Path]:
    """The instances of ``study`` (of its ``series``) written under ``folder``, one path per image to diagnose: a
    series of one instance (a film) as its file, a series of several as a folder of its slices."""
    by_series: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for data in pacs.retrieve(study, series):
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        by_series[str(ds.SeriesInstanceUID)].append((str(ds.SOPInstanceUID), data))
    paths = []
    for number, (_, instances) in enumerate(sorted(by_series.items()), 1):
        if len(instances) == 1:
            path = folder / f"series{number}-{instances[0][0][-16:]}.dcm"
            path.write_bytes(instances[0][1])
        else:
            path = folder / f"series{number}"
            path.mkdir(parents=True, exist_ok=True)
            for uid, data in instances:
                (path / f"{uid}.dcm").write_bytes(data)
        paths.append(path)
    return paths


def send_answers(pacs: Pacs, lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Send the DICOM objects the answer ``lines`` name to the PACS: what was sent, and what it kept and refused."""
    files = [Path(line[part]) for line in lines for part in ANSWER_PARTS if line.get(part)]
    if not files:
        return {"sent": [], "kept": 0, "refused": [], "note": "no answer to send (every image refused or unread)"}
    stored = pacs.store([path.read_bytes() for path in files])
    return {"sent": [path.name for path in files], **stored.to_dict()}
