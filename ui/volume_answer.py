"""The Diagnose page for a volume (a NIfTI file, a DICOM series): a volume model's structures outlined in three
planes, a table of their volumes in mL, and the answer to download (the label volume as NIfTI with the input's own
affine, a DICOM SEG and SR for a DICOM series, a report)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from medlib.answers.files import file_stem
from medlib.answers.report import volume_picture
from medlib.answers.volume_diagnose import canonical, diagnose_volume
from medlib.datasets.volumes import Volume
from medlib.errors import MedlibError
from medlib.input.image import MedImage
from medlib.store.folders import StoredModel
from ui.answer_downloads import answer_downloads
from ui.answers import learned_from
from ui.legend import legend
from ui.models import heavy_work, loaded_entry
from ui.pacs_panel import send_panel
from ui.planes import three_planes


def volume_answer(image: MedImage, name: str, models: list[StoredModel]) -> None:
    """Choose a volume model, run it on ``image`` and show its answer (or why there is none)."""
    fitting = [m for m in models if m.card.dimensions == 3]
    if image.affine is None:
        st.error(f"{name} has several frames but no placement in space (an affine): it is read as frames of a "
                 "2-D image, not as a volume", icon=":material/error:")
        return
    if not fitting:
        st.info("No volume model in the store: train one on a set of volumes (python -m medlib train --data "
                "TASK_FOLDER) or upload one on the Training page.", icon=":material/info:")
        return
    names = [m.name for m in fitting]
    chosen = fitting[names.index(st.selectbox("Volume model", names, key="dx_volume_model"))]
    try:
        loaded, lock = loaded_entry(chosen)
        with heavy_work(), lock:
            result = diagnose_volume(image.data[..., 0], image.affine, loaded, image.metadata)
    except MedlibError as exc:
        st.error(f"{name}: {exc}", icon=":material/error:")
        return
    if not result.gate.in_distribution:
        st.error("**This volume is outside what the model was trained on**, so its outline is no finding: "
                 + "; ".join(result.gate.reasons) + f". Out-of-distribution score {min(result.gate.score, 999):.2f}.",
                 icon=":material/block:")
        return
    turned, affine, _ = canonical(image.data[..., 0], image.affine)
    labels, _, _ = canonical(result.labels, result.affine)
    st.subheader(f"{', '.join(result.structures)} outlined by {chosen.name}")
    st.caption(f"{learned_from(chosen)}. {name} · voxels of "
               f"{' × '.join(f'{v:.3g}' for v in result.spacing)} mm · answered in {result.seconds * 1000:.0f} ms")
    legend(result.structures)
    three_planes(Volume(name, turned, affine, labels), "dx_volume")
    rows = [{"structure": structure, "voxels": f"{v['voxels']:,}", "volume": f"{v['volume_ml']:.3f} mL"}
            for structure, v in result.volumes.items()]
    st.table(pd.DataFrame(rows).set_index("structure"))
    picture = volume_picture(turned, labels)
    answer_downloads(file_stem(name), image, result, {"segmenter": chosen.card}, picture)
    send_panel(file_stem(name), image, result, {"segmenter": chosen.card}, picture, None)
    st.caption(f"{chosen.name}: {chosen.card.intended_use}")
    with st.expander("The volume's facts (de-identified: technical tags only)"):
        st.json({"shape": list(np.shape(result.labels)), **image.metadata}, expanded=False)
