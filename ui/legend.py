"""The legend of what a picture outlines: each structure's colour, and the mark of the located findings."""

from __future__ import annotations

import streamlit as st

from medlib.display.drawing import FINDING_COLOR, structure_color


def legend(structures: list[str], findings: bool = False) -> None:
    """The colours of the structures outlined (and the mark of the findings) in one line."""
    items = [f"<span style='color:rgb{structure_color(k)}'>■</span> {name}"
             for k, name in enumerate(structures, start=1)]
    if findings:
        items.append(f"<span style='color:rgb{FINDING_COLOR}'>○</span> located finding")
    st.markdown("Outlined: " + " &nbsp; ".join(items), unsafe_allow_html=True)
