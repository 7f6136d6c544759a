"""Start: what did the visitor come for? Each answer takes them to the page where it begins."""

from __future__ import annotations

import streamlit as st

st.title("MedLab dashboard")
st.markdown("Deep learning on medical images, in the browser: see a model's answer on your own film or scan, or "
            "train and judge one on a data set.")
st.warning("**Research tool, not a medical device.** Each model answers only the population it learned from (its "
           "card says which) and no result here may guide the care of a patient.", icon=":material/warning:")

st.subheader("What would you like to do?")
diagnose, train, label = st.columns(3, border=True)
with diagnose:
    st.markdown("#### Diagnose a film or a scan")
    st.caption("A chest film (DICOM, PNG, JPEG, TIFF) or a volume (a DICOM series, NIfTI): the models' answer, how "
               "sure they are and where the finding is, downloadable as a report, DICOM SEG and SR. Sample films "
               "are built in.")
    st.page_link("app_pages/diagnose.py", label="Diagnose", icon=":material/stethoscope:")
with train:
    st.markdown("#### Train and judge a model")
    st.caption("Pick a data set (the synthetic one, one on this server, or your ZIP), tune its preprocessing and "
               "augmentation while looking at the result, train with live curves, and judge the model with "
               "intervals, ROC, FROC and its errors.")
    st.page_link("app_pages/upload.py", label="Choose a data set", icon=":material/dataset:")
    st.page_link("app_pages/train.py", label="Training", icon=":material/model_training:")
    st.page_link("app_pages/evaluate.py", label="Evaluation", icon=":material/analytics:")
with label:
    st.markdown("#### Put nodules on films")
    st.caption("Simulated nodules from real CT, placed inside the lungs at the size and contrast you choose: see "
               "where the nodule detector starts to find them, and add such nodules to training.")
    st.page_link("app_pages/nodule_studio.py", label="Nodule studio", icon=":material/radiology:")
    st.page_link("app_pages/augment.py", label="Augmentation", icon=":material/auto_awesome_motion:")
