"""The Diagnose page's way in from the PACS and back: search its studies, open one (its images read as uploads
are), and send the answer's DICOM objects back to it, filed beside the source. The PACS is configured once, on the
server (:mod:`medlib.pacs.settings`); the page shows only its address, never a credential."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import numpy as np
import pandas as pd
import streamlit as st

from medlib.answers.diagnosis import Diagnosis
from medlib.answers.dicom_sources import patient_identifiers
from medlib.answers.files import answer_files
from medlib.answers.volume_diagnose import VolumeDiagnosis
from medlib.errors import MedlibError
from medlib.input import Upload, read_uploads
from medlib.input.image import MedImage
from medlib.pacs import Pacs, pacs_settings
from medlib.pacs.exchange import ANSWER_PARTS
from medlib.store.card import ModelCard
from ui import state
from ui.models import heavy_work

MODALITIES = ("any", "CR", "DX", "CT", "MR")


def configured() -> Pacs | None:
    """The server's PACS, where one is set (a broken setting is said once, as an error)."""
    try:
        settings = pacs_settings()
    except MedlibError as exc:
        st.error(f"The PACS settings are wrong: {exc}", icon=":material/error:")
        return None
    return Pacs(settings) if settings is not None else None


def _search(pacs: Pacs) -> None:
    patient, modality, since = st.columns(3)
    who = patient.text_input("Patient ID", key="dx_pacs_patient").strip() or None
    kind = modality.selectbox("Modality", MODALITIES, key="dx_pacs_modality")
    start = since.date_input("Studies since", None, key="dx_pacs_since", min_value=datetime.date(1950, 1, 1))
    if st.button("Search the PACS", key="dx_pacs_search", icon=":material/search:"):
        try:
            with heavy_work():
                found = pacs.search(who, None if kind == "any" else kind,
                                    start.strftime("%Y%m%d") if start else None)
        except MedlibError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        state.remember(state.PACS_STUDIES, [study.row() for study in found])


def pacs_image_choice(pacs: Pacs, reduce_to: int | None = 1280) -> tuple[MedImage, str, str] | None:
    """A study of the PACS, searched, chosen and opened: its image (the newest opened), its name and ``real``;
    ``reduce_to``: as :func:`medlib.input.read_uploads`' (``None``: every pixel of the file, as labels need)."""
    st.caption(f"PACS: {pacs.settings.safe_url} ({pacs.settings.signs_in})")
    _search(pacs)
    studies = st.session_state.get(state.PACS_STUDIES)
    if studies is None:
        st.info("Search the PACS by patient, modality or date, then open a study.", icon=":material/info:")
        return None
    if not studies:
        st.info("No study matches.", icon=":material/info:")
        return None
    table = pd.DataFrame(studies)
    st.dataframe(table.drop(columns="study"), hide_index=True, width="stretch")
    chosen = st.selectbox("Study", range(len(studies)), key="dx_pacs_study",
                          format_func=lambda k: f"{studies[k]['patient']} · {studies[k]['date']} · "
                                                f"{studies[k]['modalities']} · {studies[k]['description']}")
    uid = studies[chosen]["study"]
    opened = st.session_state.get(state.PACS_OPENED)
    if opened is None or opened[0] != uid or opened[3] != reduce_to:
        if not st.button("Open the study", key="dx_pacs_open", icon=":material/download:"):
            return None
        try:
            with heavy_work():
                files = pacs.retrieve(uid)
                uploads = read_uploads(files, [f"instance{k + 1}.dcm" for k in range(len(files))],
                                       reduce_to=reduce_to)
        except MedlibError as exc:
            st.error(str(exc), icon=":material/error:")
            return None
        opened = (uid, files, uploads, reduce_to)
        state.remember(state.PACS_OPENED, opened)
    readable: list[Upload] = [u for u in opened[2] if u.image is not None]
    for failed in (u for u in opened[2] if u.error):
        st.error(failed.error, icon=":material/error:")
    if not readable:
        return None
    names = [f"{u.image.modality or 'image'} {k + 1} of the study" for k, u in enumerate(readable)]
    pick = st.selectbox("Image of the study", range(len(readable)), key="dx_pacs_image",
                        format_func=names.__getitem__) if len(readable) > 1 else 0
    return readable[pick].image, names[pick], "real"


def opened_files() -> list[bytes]:
    """The DICOM files of the study opened from the PACS (none where the image came from elsewhere)."""
    opened = st.session_state.get(state.PACS_OPENED)
    return list(opened[1]) if opened else []


def send_panel(stem: str, image: MedImage, result: Diagnosis | VolumeDiagnosis, cards: Mapping[str, ModelCard],
               picture: np.ndarray, display: np.ndarray | None) -> None:
    """Send the answer's DICOM objects (SEG, SR, and the Secondary Capture where one is made) to the PACS the image
    came from, with the patient's identifiers and study kept, and say what the PACS answered."""
    if not result.gate.in_distribution:
        return  # no finding to file
    pacs = configured()
    instances = image.references.instance_uids if image.references is not None else ()
    source = opened_files()
    if pacs is None or not source or not instances:
        return
    st.subheader("Send to the PACS")
    if not result.gate.in_distribution:
        st.caption("Nothing to send: the image is outside what the models learned from.")
        return
    if not st.button("Send the answer to the PACS", key="dx_pacs_send", icon=":material/send:",
                     help="the SEG and SR, filed beside the image in its study, with the patient's identifiers"):
        st.caption(f"The SEG and SR go to {pacs.settings.safe_url}, into the image's own study.")
        return
    try:
        with heavy_work():
            files = answer_files(stem, image, result, cards, picture, display, dicom=True,
                                 identifiers=patient_identifiers(source, instances))
            sent = [name for name in files.files if name.rsplit("-", 1)[-1].split(".")[0] in ANSWER_PARTS]
            stored = pacs.store([files.files[name] for name in sent])
    except MedlibError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    message = f"Sent {', '.join(sent)}: the PACS kept {len(stored.kept)} of {len(sent)}"
    if stored.refused:
        st.warning(message + "; it refused " + "; ".join(f"{r['instance']} ({r['reason']})" for r in stored.refused),
                   icon=":material/warning:")
    else:
        st.success(message + ".", icon=":material/check_circle:")
