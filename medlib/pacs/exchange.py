"""A study from the PACS to answer, and the answers back: its instances written as files to diagnose (a film or
a multi-frame file as one file, a series of single-frame slices as one folder), and the DICOM answers sent to the
PACS they came from, filed beside the source (same patient and study)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydicom

from medlib.pacs.dicomweb import Pacs

ANSWER_PARTS = ("image", "seg", "sr")
"""The parts of an answer line (:func:`medlib.answers.diagnose_files.diagnose_paths`) that name DICOM objects to
send: the Secondary Capture where one was made, the SEG and the SR."""


def series_paths(folder: Path) -> list[Path]:
    """One path to diagnose per series folder under ``folder`` (its instances as ``*.dcm``): the file of a series of
    one instance (a film, or a multi-frame file), the folder of a series of several slices."""
    paths = []
    for series in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(series.glob("*.dcm"))
        paths.append(files[0] if len(files) == 1 else series)
    return paths


def fetch(pacs: Pacs, study: str, folder: Path, series: str | None = None) -> list[Path]:
    """The instances of ``study`` (of its ``series``) written under ``folder``, one folder per series, and the paths
    to diagnose (:func:`series_paths`)."""
    for data in pacs.retrieve(study, series):
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        where = folder / str(ds.SeriesInstanceUID)
        where.mkdir(parents=True, exist_ok=True)
        (where / f"{ds.SOPInstanceUID}.dcm").write_bytes(data)
    return series_paths(folder)


def send_answers(pacs: Pacs, lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Send the DICOM objects the answer ``lines`` name to the PACS: what was sent, and what it kept and refused."""
    files = [Path(line[part]) for line in lines for part in ANSWER_PARTS if line.get(part)]
    if not files:
        return {"sent": [], "kept": 0, "refused": [], "note": "no answer to send (every image refused or unread)"}
    stored = pacs.store([path.read_bytes() for path in files])
    return {"sent": [path.name for path in files], **stored.to_dict()}
