"""The files of one answer, as the Diagnose page offers them and ``medlib diagnose --out`` writes them: the label map
(a PNG at the image's own size for a film, NIfTI with the input's affine for a volume), the HTML report, and on
request the DICOM SEG and SR (with the image as a Secondary Capture where it had no DICOM file to cite); all of them
as one ZIP."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from medlib.answers.diagnosis import Diagnosis
from medlib.answers.dicom import answer_labels, dicom_answer
from medlib.answers.dicom_sources import answer_sources
from medlib.answers.report import report_html
from medlib.answers.volume_diagnose import VolumeDiagnosis, labels_nifti
from medlib.input.image import MedImage
from medlib.store.card import ModelCard

DICOM_PARTS = {"seg": "seg.dcm", "sr": "sr.dcm", "image": "image.dcm"}
"""Each DICOM object's file name after the image's stem."""


@dataclass
class AnswerFiles:
    """File names (``<stem>-...``) and their bytes, and what the reader should know of them."""

    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def zipped(self) -> bytes:
        """All the files as one ZIP archive."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.files.items():
                archive.writestr(name, data)
        return buffer.getvalue()


PARTS = ("classifier", "segmenter", "locator")
"""The parts of a film's answer, each filled by one model (:func:`medlib.answers.diagnose.diagnose`): the
classifier's classes and heat map, the segmenter's outlines, the locator's candidates."""


def fills(card: ModelCard, part: str) -> bool:
    """Whether a model of ``card`` can fill ``part`` of an answer: a classifier answers classes (it outlines no
    structure), a segmenter outlines structures and places no finding, a locator places findings (by its maps, or
    by its heat map where it is a classifier that learned from located findings)."""
    answers = {"classifier": not card.structures, "segmenter": bool(card.structures) and not card.finding,
               "locator": bool(card.finding)}
    if part not in answers:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return answers[part]


def answer_cards(classifier: Any, segmenter: Any, locator: Any) -> dict[str, ModelCard]:
    """The cards of the models that answered (stored or loaded models, ``None`` for a part left out), by their part
    (:data:`PARTS`), as the report and the DICOM answer take them."""
    return {part: model.card for part, model in zip(PARTS, (classifier, segmenter, locator), strict=True)
            if model is not None}


def file_stem(name: str) -> str:
    """The stem of an answer's file names for the image ``name``: a file's name (``scan.nii.gz``) or a label of one
    (``a.png (real adult film ...)``, ``a.dcm and 9 more (one series)``), its extension dropped, safe as a file
    name anywhere."""
    first = re.split(r" \(| and \d+ more", name, maxsplit=1)[0].strip()
    base = first[:-7] if first.lower().endswith(".nii.gz") else first.rsplit(".", 1)[0] if "." in first else first
    return re.sub(r"[^\w.-]+", "-", base).strip("-.") or "image"


def film_labels(result: Diagnosis, size: tuple[int, int]) -> bytes | None:
    """A film's label map as a PNG at ``size`` (rows, columns): 0 background, 1..K the structures in the card's
    order (1 a one-structure segmenter's finding); ``None`` where no segmenter answered."""
    labels, _ = answer_labels(result, size)
    return None if labels is None else cv2.imencode(".png", labels[0])[1].tobytes()


def answer_files(stem: str, image: MedImage, result: Diagnosis | VolumeDiagnosis, cards: Mapping[str, ModelCard],
                 picture: np.ndarray | None = None, display: np.ndarray | None = None, dicom: bool = False,
                 identifiers: dict[str, str] | None = None) -> AnswerFiles:
    """The files of the answer ``result`` about ``image``: ``<stem>-labels.png`` or ``<stem>-labels.nii.gz``,
    ``<stem>-report.html`` (``picture`` in it: the film with the answer drawn, or a volume's
    :func:`medlib.answers.report.volume_picture`) and, with ``dicom``, ``<stem>-seg.dcm``, ``<stem>-sr.dcm`` and
    ``<stem>-image.dcm`` (``display``, the image as uint8 at its own size, as a Secondary Capture where it had no
    DICOM file to cite). ``identifiers``: the patient's, kept in the DICOM objects only where given. The SR and the
    report call the candidates the diagnosis calls (:meth:`Diagnosis.called`)."""
    out = AnswerFiles()
    volume = isinstance(result, VolumeDiagnosis)
    if result.gate.in_distribution:
        labels = labels_nifti(result) if volume else film_labels(result, (image.height, image.width))
        if labels is not None:
            out.files[f"{stem}-labels.{'nii.gz' if volume else 'png'}"] = labels
    if dicom:
        try:
            sources = answer_sources(image, display, image.frames if volume else 1, identifiers)
        except ValueError as exc:
            out.notes.append(f"no DICOM answer: {exc}")
        else:
            written = dicom_answer(sources, result, cards)
            out.notes += written.notes
            out.files |= {f"{stem}-{DICOM_PARTS[part]}": data for part, data in written.files.items()}
    out.files[f"{stem}-report.html"] = report_html(stem, result, cards, picture, out.notes).encode()
    return out
