"""The Diagnose page's downloads: the answer as a DICOM SEG and SR (with the image as a Secondary Capture where it has
no DICOM file to cite), its label map (PNG at the image's own size, or NIfTI with a volume's affine), a printable
report, and all of them as one ZIP (:func:`medlib.answers.files.answer_files`). They are written when asked: most
answers are only looked at, and a full film's SEG takes a moment."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import streamlit as st

from medlib.answers.diagnosis import Diagnosis
from medlib.answers.dicom_sources import patient_identifiers
from medlib.answers.files import AnswerFiles, answer_files
from medlib.answers.volume_diagnose import VolumeDiagnosis
from medlib.input.image import MedImage
from medlib.store.card import ModelCard
from ui import state
from ui.models import heavy_work
from ui.pacs_panel import opened_files

# What each file is, by the end of its name: the button's label and the file's type.
KINDS = {"seg.dcm": ("DICOM SEG", "application/dicom"), "sr.dcm": ("DICOM SR", "application/dicom"),
         "image.dcm": ("Image (DICOM)", "application/dicom"), "labels.png": ("Label map (PNG)", "image/png"),
         "labels.nii.gz": ("Label volume (NIfTI)", "application/gzip"), "report.html": ("Report (HTML)", "text/html")}


def _kind(name: str) -> tuple[str, str]:
    return next(kind for end, kind in KINDS.items() if name.endswith(f"-{end}"))


def _identifiers(image: MedImage) -> dict[str, str]:
    """The patient's identifiers from the DICOM files this image was read from (uploaded, or opened from the PACS)."""
    uploaded = st.session_state.get("dx_files") or []
    instances = image.references.instance_uids if image.references is not None else ()
    return patient_identifiers([f.getvalue() for f in uploaded] + opened_files(), instances)


def _signature(stem: str, shown: np.ndarray, keep: bool, threshold: float | None) -> str:
    """What the prepared files were written from: a new answer, picture or choice makes them stale."""
    digest = hashlib.blake2b(np.ascontiguousarray(shown).tobytes(), digest_size=16)
    digest.update(repr((stem, shown.shape, keep, threshold)).encode())
    return digest.hexdigest()


def _offer(files: AnswerFiles, stem: str) -> None:
    names = list(files.files)
    columns = st.columns(len(names) + 1)
    for column, name in zip(columns, names, strict=False):
        label, mime = _kind(name)
        column.download_button(label, files.files[name], name, mime, key=f"dx_get.{name}", on_click="ignore",
                               icon=":material/download:", width="stretch")
    columns[-1].download_button("All (ZIP)", files.zipped(), f"{stem}-answer.zip", "application/zip",
                                key="dx_get.zip", on_click="ignore", icon=":material/folder_zip:", width="stretch")
    notes = [f"• {note}" for note in files.notes]
    dicom = any(name.endswith(".dcm") for name in names)
    st.caption("  \n".join([*notes, ("The DICOM files open in viewers such as OHIF or 3D Slicer; the report"
                                     if dicom else "The report") + " prints to PDF from the browser."]))


def answer_downloads(stem: str, image: MedImage, result: Diagnosis | VolumeDiagnosis, cards: Mapping[str, ModelCard],
                     picture: np.ndarray, display: np.ndarray | None = None) -> None:
    """The download section of one answer (its candidates called as it calls them, at the user's threshold where
    one was chosen): ``picture`` (the image with the answer drawn) goes into the report, ``display`` (the image as
    shown) becomes the Secondary Capture where the image has no DICOM file to cite."""
    if not result.gate.in_distribution:  # no finding to file: the report, which says why, and nothing else
        st.subheader("Download the report")
        name = f"{stem}-report.html"
        report = answer_files(stem, image, result, cards, picture).files[name]
        st.download_button("Report (HTML)", report, name, "text/html", key="dx_get.report", on_click="ignore",
                           icon=":material/download:")
        st.caption("The report says why the models give no finding here; it prints to PDF from the browser.")
        return
    st.subheader("Download the answer")
    keep = False
    if image.references is not None:
        keep = st.checkbox("Keep the patient's identifiers in the DICOM files", False, key="dx_keep_identifiers",
                           help="off: the SEG and SR cite the source's study, series and image UIDs but carry no "
                                "patient name, ID, birth date or study date; on: they carry those of the uploaded "
                                "file, as a PACS needs to file them with the patient's study")
    signature = _signature(stem, picture, keep, getattr(result, "call_threshold", None))
    prepared = st.session_state.get(state.DIAGNOSE_FILES)
    if prepared is None or prepared[0] != signature:
        if not st.button("Prepare the files", key="dx_prepare", icon=":material/description:",
                         help="writes the DICOM SEG and SR, the label map and the report of the answer shown"):
            st.caption("DICOM SEG and SR for a PACS or a viewer, the label map, and a report to print.")
            return
        with heavy_work():
            files = answer_files(stem, image, result, cards, picture, display, dicom=True,
                                 identifiers=_identifiers(image) if keep else None)
        prepared = (signature, files)
        state.remember(state.DIAGNOSE_FILES, prepared)
    _offer(prepared[1], stem)
