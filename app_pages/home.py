"""Start: what did the visitor come for? Each answer takes them to the page where it begins."""

from __future__ import annotations

import streamlit as st

st.title("MedLab dashboard")
st.markdown("Deep learning on medical images, in the browser: see a model's answer on your own film or scan, or "
            "train and judge one on a data set.")
st.warning("**Research tool, not a medical device.** Each model answers only the population it learned from (its "
           "card says which) and no result here may guide the care of a patient.", icon=":material/warning:")

# What a visitor may have come for: a title, what it holds, and the pages where it begins.
CHOICES = (
    ("Diagnose a film or a scan",
     "A chest film (DICOM, PNG, JPEG, TIFF) or a volume (a DICOM series, NIfTI): the models' answer, how sure they "
     "are and where the finding is, downloadable as a report, DICOM SEG and SR. Sample films are built in.",
     (("app_pages/diagnose.py", "Diagnose", ":material/stethoscope:"),)),
    ("Train and judge a model",
     "Pick a data set (the synthetic one, one on this server, or your ZIP), tune its preprocessing and augmentation "
     "while looking at the result, train with live curves, and judge the model with intervals, ROC, FROC and its "
     "errors.",
     (("app_pages/upload.py", "Choose a data set", ":material/dataset:"),
      ("app_pages/train.py", "Training", ":material/model_training:"),
      ("app_pages/evaluate.py", "Evaluation", ":material/analytics:"))),
    ("Label your own images",
     "Your films or the active data set, filled in by the models: correct the outlines, circles and class in the "
     "browser, save them as a labelled set medlib reads, and download it (ZIP).",
     (("app_pages/annotate.py", "Annotate", ":material/edit_square:"),)),
    ("Put nodules on films",
     "Simulated nodules from real CT, placed inside the lungs at the size and contrast you choose: see where the "
     "nodule detector starts to find them, and add such nodules to training.",
     (("app_pages/nodule_studio.py", "Nodule studio", ":material/radiology:"),
      ("app_pages/augment.py", "Augmentation", ":material/auto_awesome_motion:"))),
)

st.subheader("What would you like to do?")
for column, (title, what, pages) in zip(st.columns(len(CHOICES), border=True), CHOICES, strict=True):
    with column:
        st.markdown(f"#### {title}")
        st.caption(what)
        for page, label, icon in pages:
            st.page_link(page, label=label, icon=icon)
