"""Upload: one image (any format, with window/level) or a data set that becomes active for every page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from medlib.datasets import SPLITS, Dataset, VolumeSet, load_upload
from medlib.datasets.server import ServerSet, server_data, server_sets
from medlib.display.drawing import draw_targets, enlarge, scale_to_uint8
from medlib.display.windowing import to_display
from medlib.errors import MedlibError
from medlib.input import read_series
from medlib.input.image import MedImage
from medlib.tasks import tasks_for
from medlib.training.fingerprint import data_fingerprint
from ui import state
from ui.legend import legend
from ui.models import heavy_work
from ui.planes import three_planes
from ui.plots import class_balance, histogram
from ui.samples import SAMPLE_NAME, sample_image
from ui.server_sets import server_set
from ui.sidebar import privacy_notice
from ui.window import window_controls


def _read_uploaded_image(files: list) -> None:
    """Decode new uploads into session state; on error keep the previous image and remember the message."""
    upload_id = tuple(f.file_id for f in files)
    if st.session_state.get(state.IMAGE_UPLOAD_ID) == upload_id:
        return
    state.remember(state.IMAGE_UPLOAD_ID, upload_id)
    try:
        with st.spinner(f"Reading {len(files)} file(s)…"):
            image = read_series([f.getvalue() for f in files], [f.name for f in files])
    except MedlibError as exc:
        state.remember(state.IMAGE_ERROR, f"{', '.join(f.name for f in files)}: {exc}")
        return
    state.remember(state.IMAGE, image)
    state.remember(state.IMAGE_NAME, files[0].name if len(files) == 1 else f"{len(files)} DICOM files")
    state.forget(state.IMAGE_ERROR)


def image_section() -> None:
    files = st.file_uploader(
        "Image file(s)",
        accept_multiple_files=True,
        key="image_files",
        help="DICOM (with or without extension), PNG, JPEG, BMP, GIF, TIFF (8/16-bit, multi-page), "
        "NIfTI (.nii, .nii.gz), MetaImage (.mha) or NumPy .npy. Several DICOM files of one series are stacked into "
        "slices.",
    )
    if files:
        _read_uploaded_image(files)
    if error := st.session_state.get(state.IMAGE_ERROR):
        st.error(error, icon=":material/error:")
        if state.IMAGE in st.session_state:
            st.caption("Still showing the previous image.")
    image: MedImage = st.session_state.get(state.IMAGE) or sample_image()
    name = st.session_state.get(state.IMAGE_NAME, SAMPLE_NAME)
    if state.IMAGE not in st.session_state:
        st.info("Showing a built-in **synthetic** film. Upload your own file above.", icon=":material/info:")

    view, controls = st.columns([3, 2])
    with controls:
        window = window_controls(image)
        frame = 0
        if image.frames > 1:
            frame = st.slider("Frame / slice", 1, image.frames, 1, key="frame_index") - 1
        st.plotly_chart(histogram(image.frame(frame), window), key="image_histogram")
    with view:
        shown = enlarge(to_display(image, frame, window), 384)
        caption = f"{name} — frame {frame + 1}/{image.frames}, window {window.center:.4g}/{window.width:.4g}"
        st.image(shown, caption=caption, width="stretch", clamp=True)

    size, spacing, kind = st.columns(3)
    low, high = image.value_range()
    size.metric("Size (W × H)", f"{image.width} × {image.height}")
    size.caption(f"{image.frames} frame(s) · {image.channels} channel(s)")
    spacing.metric(
        "Pixel spacing", f"{image.spacing[0]:.3g} × {image.spacing[1]:.3g} mm" if image.spacing else "unknown"
    )
    if image.slice_spacing:
        spacing.caption(f"slice spacing {image.slice_spacing:.3g} mm")
    kind.metric("Format · modality", f"{image.format.upper()} · {image.modality or '—'}")
    kind.caption(f"values {low:.4g} … {high:.4g} ({image.photometric or 'unknown'})")
    st.markdown("**Metadata** (de-identified: technical tags only)")
    rows = [{"tag": k, "value": str(v)} for k, v in image.metadata.items()] or [{"tag": "—", "value": "none"}]
    st.table(pd.DataFrame(rows).set_index("tag"))


def _use(dataset: Dataset | VolumeSet) -> None:
    """Make ``dataset`` the active one (a 3-D set beside the active 2-D set)."""
    state.forget(state.DATASET_ERROR)
    if isinstance(dataset, VolumeSet):
        state.set_volume_set(dataset)
        return
    state.remember(state.DATASET_FOLLOWED, state.set_active_dataset(dataset))


def _chooseserver_set(found: list[ServerSet]) -> None:
    """The server's data sets in a table, one to pick and use (read once, then shared by every session)."""
    st.dataframe(pd.DataFrame([{"data set": s.name, "kind": s.kind, "files": s.files, "MB": round(s.megabytes, 1)}
                               for s in found]), hide_index=True, width="stretch")
    names = [s.name for s in found]
    chosen = st.selectbox("Data set on this server", names, key="server_set",
                          help=f"the folder of data sets this server keeps ({server_data()}, set by MEDLIB_DATA)")
    if st.button(f"Use {chosen}", key="use_server_set", type="primary"):
        reading = st.empty()
        reading.caption(f":material/hourglass_top: Reading {chosen} (the first visitor to choose it waits; then it is "
                        "at hand)…")
        try:
            with heavy_work():
                dataset = server_set(str(found[names.index(chosen)].path))
        except MedlibError as exc:
            state.remember(state.DATASET_ERROR, f"{chosen}: {exc}")
            reading.empty()
            return
        reading.empty()
        _use(dataset)


def _choose_dataset() -> None:
    found = server_sets()
    sources = ["Built-in synthetic chest films"] + (["A data set on this server"] if found else []) + \
        ["Upload a data set"]
    source = st.radio("Source", sources, horizontal=True, key="dataset_source")
    if source == "A data set on this server":
        _chooseserver_set(found)
        return
    if source == "Built-in synthetic chest films":
        a, b, c = st.columns(3)
        n = a.number_input("Images", 30, 3000, state.DEFAULT_PHANTOM["n"], step=30, key="phantom_n")
        size = b.selectbox("Size", [64, 128, 256], index=1, key="phantom_size")
        seed = c.number_input("Seed", 0, 10_000, 0, key="phantom_seed")
        if st.button("Use the synthetic set", key="use_phantom", type="primary"):
            chosen = state.phantom(int(n), int(size), int(seed))
            state.remember(state.DATASET_FOLLOWED, state.set_active_dataset(chosen))
            state.forget(state.DATASET_ERROR)
        return
    upload = st.file_uploader(
        "Data set (.zip or .npz)",
        type=["zip", "npz"],
        key="dataset_file",
        help="ZIP: one folder per class (optionally inside train/ val/ test/), images/ and masks/ folders, "
        "or a CSV manifest (path,label[,mask][,patient_id][,split][,x,y,radius_px or x0,y0,x1,y1]) with a "
        "labels.json naming the mask values; a Decathlon task (dataset.json, imagesTr/, labelsTr/) or NIfTI "
        "images/ and labels/ folders for volumes. NPZ: MedMNIST-style arrays.",
    )
    if upload is None or st.session_state.get(state.DATASET_UPLOAD_ID) == upload.file_id:
        return
    state.remember(state.DATASET_UPLOAD_ID, upload.file_id)
    try:
        with st.spinner(f"Reading {upload.name}…"):
            dataset = load_upload(upload.getvalue(), upload.name)
    except MedlibError as exc:
        state.remember(state.DATASET_ERROR, f"{upload.name}: {exc}")
        return
    _use(dataset)


def _sample_grid(dataset: Dataset) -> None:
    split = st.selectbox("Samples from", [s for s in SPLITS if dataset.indices(s).size], key="sample_split")
    index = dataset.indices(split)
    count = min(12, index.size)
    picks = index[np.linspace(0, index.size - 1, count).astype(int)]
    low, high = np.percentile(dataset.images[picks], [0.5, 99.5])
    named = dataset.masks is not None and len(dataset.structures) > 1
    if named or dataset.findings is not None:
        legend(dataset.structures if named else [], dataset.findings is not None)
    columns = st.columns(6)
    for slot, i in enumerate(picks):
        image = draw_targets(enlarge(scale_to_uint8(dataset.images[i], float(low), float(high)), 192),
                             dataset.image_size[0], None if dataset.masks is None else dataset.masks[i],
                             dataset.findings[i] if dataset.findings is not None else (), named)
        label = dataset.class_names[int(dataset.labels[i])] if dataset.labels is not None else "mask outlined"
        columns[slot % 6].image(image, caption=f"{label} · {dataset.ids[i]}", width="stretch")


def volume_section(volumes: VolumeSet) -> None:
    """A 3-D set: its facts, and one volume in three planes with a slice slider each, its structures outlined."""
    st.subheader(volumes.name)
    st.caption("A 3-D set: the Preprocessing and Augmentation pages preview its 3-D recipe, the Training page trains "
               "a volume model on it and the Evaluation page scores one; the active 2-D set, "
               f"{state.active_dataset().name}, stays active for 2-D work.")
    info = volumes.summary()
    facts = st.columns(4)
    facts[0].metric("Volumes", f"{len(volumes):,}")
    facts[1].metric("3-D task", volumes.task)
    facts[2].metric("Median shape", " × ".join(str(v) for v in info["shape"]["median"]))
    facts[3].metric("Spacing (mm)", " × ".join(f"{v:.3g}" for v in info["spacing"]))
    st.caption(f"Format: {volumes.source_format} · modality {volumes.modality or 'not given'} · structures: "
               f"{', '.join(volumes.structures) or 'none'} · splits "
               + ", ".join(f"{k} {v}" for k, v in info["splits"].items()))
    for note in volumes.notes:
        st.caption(f"• {note}")
    with st.expander("Data fingerprint"):
        st.json(data_fingerprint(volumes), expanded=False)
    chosen = st.selectbox("Volume", volumes.ids, key="volume_pick")
    volume = volumes.volumes[volumes.ids.index(chosen)]
    if volume.labels is not None:
        legend(volumes.structures)
    three_planes(volume, "volume")


@st.cache_data(max_entries=8, show_spinner="Taking the data set's fingerprint…")
def _data_fingerprint(content: str, _dataset: Dataset) -> dict:
    return data_fingerprint(_dataset)


def _fingerprint_panel(dataset: Dataset) -> None:
    """The facts the default recipe is derived from, in a line each, and all of them as JSON."""
    facts = _data_fingerprint(dataset.fingerprint, dataset)
    with st.expander("Data fingerprint: what the default recipe is derived from"):
        height, width = facts["size"]["height"], facts["size"]["width"]
        values = facts["intensity"]
        lines = [f"Sizes as read: median {width['median']:.0f}×{height['median']:.0f}, from "
                 f"{width['min']:.0f}×{height['min']:.0f} to {width['max']:.0f}×{height['max']:.0f} "
                 f"({facts['size']['distinct']} distinct)",
                 f"Values: {values.get('kind')}, 0.5–99.5th percentiles {values['percentiles']['p0.5']:.4g}–"
                 f"{values['percentiles']['p99.5']:.4g}, held as {facts['dtype']}"]
        if "channel_contrast" in values:
            best = max(values["channel_contrast"], key=values["channel_contrast"].get)
            lines.append(f"Colour: colourfulness {values['colourfulness']:.2f}; the {best} channel has the most "
                         "contrast")
        if "classes" in facts:
            lines.append(f"Classes: {', '.join(f'{k} {v:,}' for k, v in facts['classes'].items())} (largest over "
                         f"smallest {facts['imbalance']:.1f})")
        if "masks" in facts:
            masks = facts["masks"]
            objects = f"; median object {masks['object_side_px']:.0f} px a side" if "object_side_px" in masks else ""
            lines.append(f"Masks: {masks['foreground']:.1%} foreground, {masks['images_with_foreground']} sampled "
                         f"images with some{objects}")
            for name, part in masks.get("structures", {}).items():
                side = f", median object {part['object_side_px']:.0f} px a side" if "object_side_px" in part else ""
                lines.append(f"Structure {name}: {part['foreground']:.1%} of the pixels{side}")
        if "findings" in facts:
            found, size = facts["findings"], facts["findings"].get("size_px", {})
            lines.append(f"Findings ({', '.join(found['kinds']) or 'none'}): median {found['per_image']['median']:g} "
                         f"an image, at most {found['per_image']['max']:g}"
                         + (f"; median size {size['median']:.1f} px" if size else ""))
        patients = f" of {facts['patients']:,} patients" if facts["patients"] else ""
        lines.append(f"{facts['images']:,} images{patients}")
        st.markdown("\n".join(f"- {line}" for line in lines))
        st.json(facts, expanded=False)


def dataset_section() -> None:
    _choose_dataset()
    if error := st.session_state.get(state.DATASET_ERROR):
        st.error(error, icon=":material/error:")
        st.caption("The previous data set stays active.")
    if (volumes := state.volume_set()) is not None:
        volume_section(volumes)
        return
    dataset = state.active_dataset()
    st.subheader(dataset.name)
    if (followed := st.session_state.get(state.DATASET_FOLLOWED)) is not None:
        kept = [what for what in ("preprocessing", "augmentation") if what not in followed]
        st.caption(" · ".join([f"The {what} now follows this data set's defaults." for what in followed] +
                              [f"Your changed {what} is kept; its page can reset it to this set's default."
                               for what in kept]))
    if dataset.synthetic:
        st.warning("SYNTHETIC data generated by medlib — for trying the tool, not for clinical use.")
    facts = st.columns(3)
    facts[0].metric("Images", f"{len(dataset):,}")
    tasks = tasks_for(dataset)
    facts[1].metric("Trains" if len(tasks) > 1 else "Task", " · ".join(task.title for task in tasks),
                    help="what the Training page can learn from this set: " + "; ".join(
                        f"{task.title} from its {task.needs}" for task in tasks))
    facts[2].metric("Size · channels", f"{dataset.image_size[1]}×{dataset.image_size[0]} · {dataset.channels}")
    fits = {"as read": "every image at its own size", "scaled": "shrunk to one size",
            "pad": "many sizes brought to squares, aspect kept with padding",
            "stretch": "many sizes stretched to squares"}
    st.caption(f"Format: {dataset.source_format or 'unknown'} · held as {dataset.images.dtype} "
               f"({dataset.images.nbytes / 2**20:,.0f} MiB) · {fits.get(dataset.fit, dataset.fit)} · "
               f"content fingerprint `{dataset.fingerprint}`")
    counts = dataset.counts()
    table = pd.DataFrame(counts).T.reindex(list(SPLITS))
    table["total"] = table.sum(axis=1)
    left, right = st.columns([2, 3])
    left.dataframe(table, width="stretch")
    right.plotly_chart(class_balance(dataset), key="class_balance")
    for note in dataset.notes:
        st.caption(f"• {note}")
    _fingerprint_panel(dataset)
    _sample_grid(dataset)


st.title("Upload")
privacy_notice()
image_tab, dataset_tab = st.tabs(["Image", "Data set"])
with image_tab:
    image_section()
with dataset_tab:
    dataset_section()
