"""The dashboard: `streamlit run app.py`. Pages follow the pipeline; each is a thin layer over medlib."""

import streamlit as st

from ui.models import keep_keras_state
from ui.page_style import hide_running_icon
from ui.sidebar import render_sidebar
from ui.workspace import sweep_idle

st.set_page_config(page_title="MedLab dashboard", page_icon="ui/favicon.png", layout="wide")
hide_running_icon()

PAGES = [
    st.Page("app_pages/home.py", title="Start", icon=":material/home:", default=True),
    st.Page("app_pages/upload.py", title="Upload", icon=":material/upload_file:"),
    st.Page("app_pages/preprocess.py", title="Preprocessing", icon=":material/tune:"),
    st.Page("app_pages/augment.py", title="Augmentation", icon=":material/auto_awesome_motion:"),
    st.Page("app_pages/train.py", title="Training", icon=":material/model_training:"),
    st.Page("app_pages/evaluate.py", title="Evaluation", icon=":material/analytics:"),
    st.Page("app_pages/diagnose.py", title="Diagnose", icon=":material/stethoscope:"),
    st.Page("app_pages/nodule_studio.py", title="Nodule studio", icon=":material/radiology:"),
    st.Page("app_pages/annotate.py", title="Annotate", icon=":material/edit_square:"),
]

navigation = st.navigation(PAGES)
sweep_idle()  # other sessions' workspaces idle past the limit
try:
    navigation.run()
finally:
    keep_keras_state()  # before Streamlit's own end-of-run clean-up, also when a rerun cuts the sidebar short
    render_sidebar()  # after the page, so the sidebar shows what the page just changed (also when it stops early)
