"""Annotate: the models' answer fills an image in; the user corrects it in the browser and saves it into a labelled
set (the layout medlib reads), image after image."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pandas as pd
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from medlib.answers.diagnose import diagnose
from medlib.answers.dicom_labels import labels_dicom
from medlib.display.windowing import to_display
from medlib.errors import MedlibError
from medlib.input.image import MedImage
from medlib.labelling.canvas import FINDING_COLOUR, fill_colour, from_drawing, structure_colours, to_drawing
from medlib.labelling.labelled_set import WORK_FILE, LabelledSet, file_name
from medlib.labelling.labels import ImageLabels
from medlib.labelling.proposal import outlined_structures, proposal_from
from ui import state
from ui.annotate_images import Images, image_source
from ui.model_choice import age_model, model_choice
from ui.models import models_in_use
from ui.retrain_panel import retrain_panel
from ui.sidebar import privacy_notice
from ui.window import window_controls
from ui.workspace import remember_in_url, shelf, workspace

#: The canvas's long side in screen pixels: small images are enlarged to it, large ones shrunk.
CANVAS_SIDE = 720
#: The long side, in pixels, the models work on (as on the Diagnose page); their answer comes back at full size.
WORK_SIDE = 1280
CIRCLE, OUTLINE = "Circle a finding", "Outline a structure"


def _step(by: int, count: int) -> None:
    state.remember(state.ANNOTATE_INDEX, min(max(int(st.session_state.get(state.ANNOTATE_INDEX, 1)) + by, 1), count))


def _image_number(images: Images, labelled: LabelledSet) -> int:
    """The image the user is on (0-based), with previous and next buttons and how many are labelled."""
    count = len(images.names)
    if (going := st.session_state.get(state.ANNOTATE_GO_TO)) is not None:  # "Save and next", before the widget
        state.remember(state.ANNOTATE_INDEX, going)
        state.forget(state.ANNOTATE_GO_TO)
    if st.session_state.get(state.ANNOTATE_INDEX, 1) > count:
        state.remember(state.ANNOTATE_INDEX, count)
    back, number, forward, progress = st.columns([1, 2, 1, 4], vertical_alignment="bottom")
    back.button("Previous", icon=":material/arrow_back:", on_click=_step, args=(-1, count), disabled=count < 2,
                key="an_previous")
    chosen = number.number_input(f"Image (1–{count})", 1, count, key=state.ANNOTATE_INDEX)
    forward.button("Next", icon=":material/arrow_forward:", on_click=_step, args=(1, count), disabled=count < 2,
                   key="an_next")
    done = sum(labelled.is_saved(name) for name in images.names)
    progress.progress(done / count, text=f"{done} of {count} labelled")
    return int(chosen) - 1


def _propose(image: MedImage, frame: int, entries: tuple, classes: list[str]) -> tuple[ImageLabels, list[str]]:
    """The models' answer on the image as labels to start from (empty where no model is chosen)."""
    size = (image.height, image.width)
    if not any(entries):
        return ImageLabels(size), []
    pixels = image.frame(frame)
    with models_in_use(*entries, age_model(shelf().models(), *entries)) as (classifier, segmenter, locator, ager):
        result = diagnose(pixels if pixels.ndim == 3 else pixels[..., None], classifier, segmenter, image.spacing,
                          metadata=image.metadata, work_side=WORK_SIDE, locator=locator, age_model=ager)
    return proposal_from(result, size, classes)


def _canvas(image: MedImage, frame: int, image_id: str, labelled: LabelledSet, tool: str, structure: str | None
            ) -> tuple[dict | None, float]:
    """The canvas with the image and its labels as last edited; its drawing as the browser sends it, and its
    scale (canvas pixels per image pixel)."""
    with st.popover("Window", icon=":material/contrast:"):
        window = window_controls(image, key="an_window")
    scale = CANVAS_SIDE / max(image.height, image.width)
    size = (round(image.width * scale), round(image.height * scale))
    background = Image.fromarray(to_display(image, frame, window, max_side=max(CANVAS_SIDE, 1))).resize(size)
    generation = st.session_state.get(state.ANNOTATE_GENERATION, {}).get(image_id, 0)
    opened = repr((str(labelled.root), image_id, generation, window))
    key = "an_canvas." + hashlib.sha1(opened.encode()).hexdigest()[:16]
    starts = st.session_state.get(state.ANNOTATE_START, {})
    if key not in starts:  # a new canvas opens on the labels as last kept (also after a reload)
        starts = {key: to_drawing(labelled.labels(image_id) or ImageLabels((image.height, image.width)),
                                  labelled.structures, scale)}
        state.remember(state.ANNOTATE_START, starts)
    outline = structure_colours(labelled.structures).get(structure or "", "#ffffff")
    colour = FINDING_COLOUR if tool == CIRCLE else outline
    result = st_canvas(fill_color=fill_colour(colour, 0.0 if tool == CIRCLE else 0.15), stroke_width=2,
                       stroke_color=colour, background_image=background, initial_drawing=starts[key],
                       height=size[1], width=size[0], drawing_mode="circle" if tool == CIRCLE else "polygon",
                       key=key)
    return result.json_data, scale


def _restart(image_id: str) -> None:
    generations = dict(st.session_state.get(state.ANNOTATE_GENERATION, {}))
    generations[image_id] = generations.get(image_id, 0) + 1
    state.remember(state.ANNOTATE_GENERATION, generations)


def _saved_table(labelled: LabelledSet) -> pd.DataFrame:
    rows = []
    for image_id in labelled.saved:
        record = labelled.work["images"][image_id]
        found = record.get("changes") or {}
        outlines = found.get("outlines", {})
        circles = found.get("circles", {})
        rows.append({"image": image_id, "class": record["labels"].get("label") or "—",
                     "outlines corrected": ", ".join(f"{n} (Dice {o['dice']:.3f})" for n, o in outlines.items()
                                                     if o["corrected"]) or "none",
                     "circles added": circles.get("added", 0), "circles removed": circles.get("removed", 0),
                     "saved": record["saved"].replace("T", " ")[:19]})
    return pd.DataFrame(rows).set_index("image")


def _dicom_download(image: MedImage, image_id: str, labelled: LabelledSet) -> None:
    """The saved labels of a film as a DICOM SEG and SR (and the Secondary Capture they cite where the film had no
    DICOM file), in a ZIP, prepared on request."""
    which = [str(labelled.root), image_id, labelled.work["images"][image_id]["saved"]]
    prepared = st.session_state.get(state.ANNOTATE_DICOM)
    if prepared is not None and prepared["of"] == which:
        st.download_button("Download the saved labels as DICOM SEG and SR (ZIP)", prepared["zip"],
                           f"{file_name(image_id)}-labels-dicom.zip", "application/zip", icon=":material/download:",
                           key="an_dicom_download")
        for note in prepared["notes"]:
            st.caption(f":material/info: {note}")
    elif st.button("Prepare the saved labels as DICOM SEG and SR", icon=":material/description:", key="an_dicom"):
        with st.spinner("Writing the DICOM SEG and SR…"):
            answer = labels_dicom(image, labelled.saved_labels(image_id), labelled.structures,
                                  display=to_display(image))
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for kind, data in answer.files.items():
                    archive.writestr(f"{file_name(image_id)}-{kind}.dcm", data)
        state.remember(state.ANNOTATE_DICOM, {"of": which, "zip": buffer.getvalue(), "notes": answer.notes})
        st.rerun()


def _kept_sets() -> None:
    """The labelled sets kept in the workspace (after a reload the uploads are gone, the labels are not): each with
    what was saved and its ZIP; an image uploaded again finds its labels by its name."""
    for work in sorted(workspace().labelled.glob(f"*/{WORK_FILE}")):
        kept = LabelledSet(work.parent, [], [], "")
        if kept.saved or kept.work["images"]:
            st.markdown(f"**{work.parent.name}**: {len(kept.saved)} image(s) saved, "
                        f"{len(kept.work['images']) - len(kept.saved)} with unsaved labels; {kept.summary()}. "
                        "Open the same images again to go on.")
            st.download_button(f"Download {work.parent.name} (ZIP)", kept.to_zip(), f"{work.parent.name}.zip",
                               "application/zip", icon=":material/download:", key=f"an_kept.{work.parent.name}")


@st.fragment
def _annotate() -> None:
    images = image_source(state.active_dataset())
    if images is None:
        _kept_sets()
        return
    models = shelf().models()
    left, middle, right = st.columns(3)
    entries = (model_choice(models, "classifier", images.kind, "Class from", left, "an"),
               model_choice(models, "segmenter", images.kind, "Outlines from", middle, "an"),
               model_choice(models, "locator", images.kind, "Circles from", right, "an"))
    name_column, tool_column, structure_column, class_column = st.columns(4)
    set_name = file_name(name_column.text_input("Labelled set", f"{file_name(images.source)}-labels",
                                                key=f"an_set.{images.source}", max_chars=60,
                                                help="saved in your workspace; download it below"))
    structures = list(images.structures)
    if entries[1] is not None:
        with models_in_use(entries[1]) as (segmenter,):
            structures += [s for s in outlined_structures(segmenter) if s not in structures]
    finding = images.finding or (entries[2].card.finding if entries[2] is not None else "") or "nodule"
    classes = images.classes or (list(entries[0].card.class_names) if entries[0] is not None else [])
    labelled = LabelledSet(workspace().labelled / set_name, structures, classes, finding)
    index = _image_number(images, labelled)
    image, image_id = images.open(index), images.names[index]
    frame = 0
    if image.frames > 1:
        frame = st.slider("Slice", 1, image.frames, (image.frames + 1) // 2, key="an_slice") - 1
        image_id = f"{image_id} slice {frame + 1}"
    notes: list[str] = []
    if labelled.labels(image_id) is None:  # first visit: the models fill it in
        try:
            proposal, notes = _propose(image, frame, entries, labelled.classes)
        except MedlibError as exc:
            proposal, notes = ImageLabels((image.height, image.width)), [f"the models cannot answer: {exc}"]
        labelled.keep_draft(image_id, proposal, proposal if any(entries) else None)
    current = labelled.labels(image_id)
    tool = tool_column.radio("Tool", [CIRCLE, OUTLINE] if labelled.structures else [CIRCLE], key="an_tool",
                             help="move, resize or delete with the canvas's edit button (and its bin); undo there")
    structure = structure_column.selectbox("Structure to outline", labelled.structures, key="an_structure",
                                           accept_new_options=True, disabled=tool != OUTLINE,
                                           help="type a new name to outline a structure the set has not had")
    if structure and structure not in labelled.structures:
        labelled = LabelledSet(labelled.root, [*labelled.structures, structure], classes, finding)
    label = None
    if labelled.classes:
        label = class_column.selectbox("Class", labelled.classes, key=f"an_class.{set_name}.{image_id}",
                                       index=labelled.classes.index(current.label) if current.label in
                                       labelled.classes else None, placeholder="Choose the class",
                                       help="the classifier's answer where it gave one for this image")
    for note in notes:
        st.caption(f":material/info: {note}")
    drawing, scale = _canvas(image, frame, image_id, labelled, tool, structure)
    edited = from_drawing(drawing, labelled.structures, scale, (image.height, image.width), finding, label) \
        if drawing is not None else ImageLabels(current.size, current.outlines, current.findings, label)
    if edited.to_dict() != current.to_dict():
        labelled.keep_draft(image_id, edited)
    st.caption(f"{image_id} · {image.width}×{image.height} pixels · {len(edited.findings)} circle(s), "
               f"{sum(len(p) for p in edited.outlines.values())} outline(s)"
               + (f" · {labelled.unsaved_state(image_id)}, not yet saved" if labelled.has_unsaved(image_id) else ""))
    save, save_next, again = st.columns(3)
    unclassed = bool(labelled.classes) and label is None
    saved = save.button("Save", icon=":material/save:", key="an_save", type="primary", disabled=unclassed,
                        help="choose the image's class first" if unclassed else None)
    saved_next = save_next.button("Save and next", icon=":material/skip_next:", key="an_save_next",
                                  disabled=unclassed)
    if again.button("Start again from the models", icon=":material/restart_alt:", key="an_again",
                    help="set the labels back to the models' answer (what was saved stays until you save again)"):
        labelled.restart(image_id)
        _restart(image_id)
        st.rerun()
    if saved or saved_next:
        path = labelled.save(image_id, image.frame(frame), edited, image.spacing)
        state.remember(state.ANNOTATE_SAVED, f"Saved {image_id} to {set_name}: {path.parent.name}/{path.name} "
                                             f"({image.width}×{image.height})"
                       + (" and its label map" if labelled.structures else ""))
        if saved_next:
            state.remember(state.ANNOTATE_GO_TO, min(index + 2, len(images.names)))
        st.rerun()
    if message := st.session_state.get(state.ANNOTATE_SAVED):
        st.success(message, icon=":material/check_circle:")
    if labelled.is_saved(image_id) and image.frames == 1:
        _dicom_download(image, image_id, labelled)
    if labelled.saved:
        st.subheader(f"The labelled set {set_name}")
        st.markdown(labelled.summary().capitalize())
        st.dataframe(_saved_table(labelled))
        st.download_button("Download the set (ZIP)", labelled.to_zip(), f"{set_name}.zip", "application/zip",
                           icon=":material/download:", key="an_zip",
                           help="images, label maps, manifest.csv and labels.json: the layout medlib reads "
                                "(Upload page, medlib info)")
        # the segmenter first: what the page edits most
        retrain_panel(labelled.root, set_name, [e for e in (entries[1], entries[2], entries[0]) if e is not None])


st.title("Annotate")
st.caption("The models' answer fills each image in: outlines of the structures, circles on the findings, the class. "
           "Correct it on the canvas (draw with the tool chosen; move, resize or delete with the canvas's edit button; "
           "undo and redo there too), then save. Every edit is kept in your workspace as you go, so a reload finds "
           "it again.")
privacy_notice()
remember_in_url()  # a reload of the page finds the workspace, and so the labels, again
_annotate()
