"""The sidebar every page shows (the active data set and model), and the privacy notice of the pages that take
uploads."""

from __future__ import annotations

import streamlit as st

from ui.state import active_augmenter, active_dataset, active_model, active_pipeline


def render_sidebar() -> None:
    """Show what the pages work on, kept across pages in session state."""
    dataset = active_dataset()
    with st.sidebar:
        st.markdown("**Active data set**")
        label = f"{dataset.name}  \n{len(dataset):,} images · {dataset.task} · `{dataset.fingerprint}`"
        st.caption(label)
        if dataset.synthetic:
            st.caption(":orange-badge[SYNTHETIC] generated data, not for clinical use")
        st.markdown("**Preprocessing · augmentation**")
        steps = " → ".join(name for name, _ in active_pipeline().steps) or "none"
        st.caption(f"{steps}  \n{len(active_augmenter().steps)} augmentation transform(s)")
        st.markdown("**Active model**")
        st.caption(active_model() or "none chosen: each page preselects one from the store")
        st.divider()
        st.caption("Research tool, not a medical device.")


PRIVACY_NOTICE = ("Images you upload are sent to the server that runs this app. On a shared or public server, upload "
                  "only images without patient identifiers (no names, numbers or dates, also none burned into the "
                  "pixels). DICOM files are read de-identified: only technical tags are kept and shown.")


def privacy_notice() -> None:
    """Say where uploads go and what they must not carry (shown on the pages that take uploads)."""
    st.caption(f":material/lock: {PRIVACY_NOTICE}")
