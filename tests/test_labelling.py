"""Labels a person edits: the canvas drawing and back, label maps at the image's own size, what changed against
the models' proposal, and the labelled set read back by medlib's own reader."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medlib.datasets import load_dataset
from medlib.errors import DatasetError
from medlib.labelling.canvas import FINDING_COLOUR, from_drawing, structure_colours, to_drawing
from medlib.labelling.labelled_set import LabelledSet, as_png_pixels, file_name
from medlib.labelling.labels import ImageLabels, changes, changes_summary, outlines_of
from medlib.targets import Finding
from medlib.training import TrainConfig

STRUCTURES = ["right lung", "left lung", "heart"]


def _square(x0: float, y0: float, side: float) -> np.ndarray:
    return np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]])


@settings(max_examples=40, deadline=None)
@given(points=st.lists(st.tuples(st.floats(0, 2047), st.floats(0, 2047)), min_size=3, max_size=12),
       circle=st.tuples(st.floats(0, 2047), st.floats(0, 2047), st.floats(1, 200)),
       scale=st.floats(0.05, 8.0), structure=st.sampled_from(STRUCTURES))
def test_labels_come_back_from_the_canvas_where_they_were(points, circle, scale, structure):
    labels = ImageLabels((2048, 2048), {structure: [np.array(points)]}, [Finding("nodule", circle[:2], circle[2])])
    back = from_drawing(to_drawing(labels, STRUCTURES, scale), STRUCTURES, scale, (2048, 2048), "nodule")
    assert list(back.outlines) == [structure]
    np.testing.assert_allclose(back.outlines[structure][0], np.array(points), atol=2e-3)
    assert back.findings[0].centre == pytest.approx(circle[:2], abs=2e-3)
    assert back.findings[0].radius == pytest.approx(circle[2], abs=2e-3)


def test_shapes_fabric_moved_turned_and_drew_are_read_where_the_canvas_shows_them():
    # As the canvas sends them: a polygon placed by its centre after a move of (30, 20) canvas pixels, the same
    # polygon turned by 90° about its centre, and a circle the user drew from its left edge (Fabric's origin for a
    # new circle), its 2-pixel edge counted in its size as Fabric counts it.
    points = [{"x": 50, "y": 50}, {"x": 150, "y": 60}, {"x": 120, "y": 160}]
    heart = structure_colours(STRUCTURES)["heart"]
    moved = {"type": "Polygon", "originX": "center", "originY": "center", "left": 130, "top": 125, "width": 100,
             "height": 110, "strokeWidth": 2, "scaleX": 1, "scaleY": 1, "angle": 0, "points": points, "stroke": heart}
    turned = moved | {"left": 100, "top": 105, "angle": 90}
    drawn = {"type": "Circle", "originX": "left", "originY": "center", "left": 300, "top": 200, "radius": 10,
             "width": 20, "height": 20, "strokeWidth": 2, "scaleX": 1.5, "scaleY": 1.5, "stroke": FINDING_COLOUR}
    scale = 2.0
    labels = from_drawing({"objects": [moved, turned, drawn]}, STRUCTURES, scale, (200, 300), "nodule")
    first, second = labels.outlines["heart"]
    np.testing.assert_allclose(first, (np.array([[80, 70], [180, 80], [150, 180]]) / scale - 0.5))
    # turned by 90° (clockwise on the screen, y down) about the centre of the points' box, (100, 105)
    np.testing.assert_allclose(second, (np.array([[155, 55], [145, 155], [45, 125]]) / scale - 0.5))
    (circle,) = labels.findings
    assert circle.centre == pytest.approx(((300 + 0.5 * 22 * 1.5) / scale - 0.5, 200 / scale - 0.5))
    assert circle.radius == pytest.approx(15 / scale)


def test_an_outline_takes_the_structure_of_its_colour_and_other_shapes_are_left_out():
    colours = structure_colours(STRUCTURES)
    near_left = "rgb(" + ", ".join(str(int(colours["left lung"][i:i + 2], 16) + 3) for i in (1, 3, 5)) + ")"
    drawing = {"objects": [{"type": "Polygon", "points": [{"x": 1, "y": 1}, {"x": 9, "y": 1}, {"x": 5, "y": 9}],
                            "stroke": near_left}, {"type": "Line", "x1": 0, "y1": 0, "x2": 5, "y2": 5}]}
    labels = from_drawing(drawing, STRUCTURES, 1.0, (10, 10), "nodule")
    assert list(labels.outlines) == ["left lung"] and not labels.findings


def test_a_label_map_is_filled_at_the_images_own_size():
    labels = ImageLabels((2048, 1536), {"right lung": [_square(100.0, 200.0, 999.0)], "heart": [_square(0, 0, 9.0)]})
    label_map = labels.label_map(STRUCTURES)
    assert label_map.shape == (2048, 1536) and label_map.dtype == np.uint8
    assert int((label_map == 1).sum()) == 1000 * 1000 and int((label_map == 3).sum()) == 100
    assert label_map[200, 100] == 1 and label_map[1199, 1099] == 1 and label_map[1200, 1100] == 0


def test_outlines_of_a_small_map_land_on_a_large_image_and_fill_back_to_it():
    label_map = np.zeros((64, 64), np.uint8)
    cv2.ellipse(label_map, (20, 32), (10, 20), 0, 0, 360, 1, -1)
    cv2.circle(label_map, (46, 40), 8, 2, -1)
    label_map[2, 2] = 2  # a speck: no outline to edit
    outlines = outlines_of(label_map, ["right lung", "heart"], (512, 512))
    assert len(outlines["right lung"]) == 1 and len(outlines["heart"]) == 1
    assert len(outlines["right lung"][0]) < 60  # few enough vertices to edit by hand
    filled = ImageLabels((512, 512), outlines).label_map(["right lung", "heart"])
    big = cv2.resize(label_map, (512, 512), interpolation=cv2.INTER_NEAREST)
    for value in (1, 2):
        overlap = np.logical_and(filled == value, big == value).sum()
        assert 2 * overlap / ((filled == value).sum() + (big == value).sum()) > 0.95


def test_changes_say_what_the_person_corrected_against_the_proposal():
    proposal = ImageLabels((100, 100), {"right lung": [_square(10, 10, 30)], "heart": [_square(50, 50, 20)]},
                           [Finding("nodule", (20.0, 20.0), 4.0), Finding("nodule", (70.0, 20.0), 4.0)], "normal")
    saved = ImageLabels((100, 100), {"right lung": [_square(10, 10, 30)], "heart": [_square(55, 50, 20)]},
                        [Finding("nodule", (22.0, 21.0), 4.0), Finding("nodule", (80.0, 80.0), 6.0)], "nodule")
    found = changes(proposal, saved)
    assert found["outlines"]["right lung"] == {"dice": 1.0, "corrected": False}
    assert found["outlines"]["heart"]["corrected"] and 0.7 < found["outlines"]["heart"]["dice"] < 0.8
    assert found["circles"] == {"kept": 0, "moved": 1, "removed": 1, "added": 1}
    assert found["class"] == {"before": "normal", "after": "nodule", "changed": True}
    untouched = changes(proposal, ImageLabels.from_dict(json.loads(json.dumps(proposal.to_dict()))))
    assert not any(o["corrected"] for o in untouched["outlines"].values()) and untouched["circles"]["kept"] == 2
    assert changes_summary([found, untouched]) == (
        "you corrected 1 of 4 outlines; moved 1 and removed 1 of 4 proposed circles, added 1; changed the class of "
        "1 of 2 images (2 images saved)")


def test_a_labelled_set_is_read_back_by_medlibs_reader_at_the_images_own_size(tmp_path):
    labelled = LabelledSet(tmp_path / "site", ["right lung", "heart"], ["normal", "nodule"], "nodule")
    film = np.random.default_rng(0).integers(0, 4096, (300, 200)).astype(np.float32)  # a 12-bit film, as read
    proposal = ImageLabels((300, 200), {"right lung": [_square(20, 30, 60)]}, [], "normal")
    labelled.keep_draft("film 1.dcm", proposal, proposal)
    assert labelled.labels("film 1.dcm").to_dict() == proposal.to_dict()
    edited = ImageLabels((300, 200), {"right lung": [_square(20, 30, 60)], "heart": [_square(100, 150, 40)]},
                         [Finding("nodule", (50.5, 60.0), 5.0)], "nodule")
    labelled.keep_draft("film 1.dcm", edited)
    assert labelled.has_unsaved("film 1.dcm") and not labelled.is_saved("film 1.dcm")
    labelled.save("film 1.dcm", film, edited, spacing=(0.5, 0.5))
    labelled.save("film 2", film[:, :, None], ImageLabels((300, 200), label="normal"))
    assert labelled.saved == ["film 1.dcm", "film 2"] and not labelled.has_unsaved("film 1.dcm")

    again = LabelledSet(tmp_path / "site", ["right lung", "heart"], ["normal", "nodule"], "nodule")  # a reload
    assert again.labels("film 1.dcm").to_dict() == edited.to_dict()
    assert "corrected 0 of 1 outlines" not in again.summary() and "changed the class of 1 of 1" in again.summary()
    dataset = load_dataset(tmp_path / "site")
    assert dataset.image_size == (300, 200) and dataset.structures == ["right lung", "heart"]
    assert set(dataset.class_names) == {"normal", "nodule"}
    first = next(i for i, name in enumerate(dataset.ids) if "film_1" in name)
    assert (dataset.masks[first] == 2).sum() == 41 * 41
    np.testing.assert_array_equal(dataset.images[first][..., 0], film)  # the pixels as they were
    assert [f.centre for f in dataset.findings[first]] == [(50.5, 60.0)]
    assert dataset.spacing == pytest.approx((0.5, 0.5))


def test_one_class_so_far_leaves_the_class_column_out_until_a_second_comes(tmp_path):
    labelled = LabelledSet(tmp_path / "set", ["lung"], ["normal", "nodule"], "nodule")
    labelled.save("a", np.zeros((20, 20), np.uint8), ImageLabels((20, 20), {"lung": [_square(2, 2, 8)]}, [], "normal"))
    assert "label" not in (tmp_path / "set" / "manifest.csv").read_text().splitlines()[0]
    assert load_dataset(tmp_path / "set").structures == ["lung"]
    labelled.save("b", np.zeros((20, 20), np.uint8), ImageLabels((20, 20), {}, [], "nodule"))
    assert "label" in (tmp_path / "set" / "manifest.csv").read_text().splitlines()[0]


def test_start_again_goes_back_to_the_proposal_and_a_wrong_save_is_refused(tmp_path):
    labelled = LabelledSet(tmp_path / "set", ["lung"], ["normal", "nodule"], "nodule")
    proposal = ImageLabels((20, 20), {"lung": [_square(2, 2, 8)]}, [], "normal")
    labelled.keep_draft("a", proposal, proposal)
    labelled.keep_draft("a", ImageLabels((20, 20), {}, [Finding("nodule", (5.0, 5.0), 2.0)], "nodule"))
    labelled.restart("a")
    assert labelled.labels("a").to_dict() == proposal.to_dict()
    with pytest.raises(DatasetError, match="for a 20×20 image"):
        labelled.save("a", np.zeros((30, 20)), proposal)
    with pytest.raises(DatasetError, match="not a class of this set"):
        labelled.save("a", np.zeros((20, 20)), ImageLabels((20, 20), label="pneumonia"))


def test_pixels_keep_their_values_where_a_png_holds_them():
    assert as_png_pixels(np.array([[0.0, 255.0]]))[0].dtype == np.uint8
    assert as_png_pixels(np.array([[0.0, 4095.0]]))[0].dtype == np.uint16
    scaled, note = as_png_pixels(np.array([[-1000.0, 1000.0]], np.float32))
    assert scaled.tolist() == [[0, 65535]] and note == "values -1000..1000 scaled onto 0..65535"
    assert file_name("chest film (1).dcm") == "chest_film_1" and file_name("../..") == "image"


def test_a_model_trained_again_on_a_labelled_set_is_judged_before_and_after_on_the_held_back_images(tmp_path):
    from medlib.datasets.phantom import make_phantom
    from medlib.labelling.retrain import before_after, check_retrainable, retrain_config
    from medlib.models.loaded import open_model
    from medlib.store.folders import list_models
    from medlib.training import train
    from tests.conftest import ROOT

    pytest.importorskip("tensorflow")
    films = make_phantom(n=14, size=128, seed=5)
    labelled = LabelledSet(tmp_path / "site", ["lesion"], [], "nodule")
    for i in range(3):
        labelled.save(films.ids[i], films.images[i], ImageLabels((128, 128), outlines_of(films.masks[i], ["lesion"],
                                                                                         (128, 128))))
    with pytest.raises(DatasetError, match="label more images"):
        check_retrainable(load_dataset(tmp_path / "site"))
    for i in range(3, 14):
        labelled.save(films.ids[i], films.images[i], ImageLabels((128, 128), outlines_of(films.masks[i], ["lesion"],
                                                                                         (128, 128))))
    dataset = load_dataset(tmp_path / "site")
    check_retrainable(dataset)
    (lesions,) = [m for m in list_models(ROOT / "models") if m.name == "chest-lesions"]
    config = retrain_config(lesions, tmp_path / "site", minutes=0.0)
    assert config.init_from == str(lesions.path) and config.task == lesions.card.task
    assert config.learning_rate == pytest.approx(TrainConfig(data="x").learning_rate / 10)  # fine-tuning
    train(TrainConfig.from_dict(config.to_dict() | {"epochs": 2, "folds": 1}), tmp_path / "again", dataset=dataset)
    assert "chest-lesions" in json.dumps(json.loads((tmp_path / "again" / "card.json").read_text())["training"])
    rows = before_after(open_model(lesions.path), open_model(tmp_path / "again"), dataset)
    dice = next(row for row in rows if row["figure"] == "dice")
    assert dice["n"] == len(dataset.indices("test")) and 0.0 <= dice["before"][0] <= 1.0
    assert dice["before"][1] <= dice["before"][0] <= dice["before"][2]


def test_a_shared_set_joins_the_training_only_and_must_label_the_same_structures(tmp_path):
    from medlib.datasets.combine import with_shared
    from medlib.datasets.phantom import make_phantom

    labelled = LabelledSet(tmp_path / "site", ["foreground"], [], "nodule")
    films = make_phantom(n=12, size=64, seed=3)
    for i in range(12):
        labelled.save(films.ids[i], films.images[i, ..., 0], ImageLabels(
            (64, 64), outlines_of(films.masks[i], ["foreground"], (64, 64)), [Finding("nodule", (10.0, 20.0), 3.0)]))
    own = load_dataset(tmp_path / "site")
    shared = make_phantom(n=8, size=128, seed=4)
    shared.findings = [[Finding("nodule", (40.0, 60.0), 6.0)] for _ in range(8)]
    shared.labels = None  # the person's set has no classes: a shared one with classes would not join
    joined = with_shared(own, shared)
    assert len(joined) == 20 and joined.image_size == (64, 64)
    assert list(joined.split[12:]) == ["train"] * 8 and list(joined.split[:12]) == list(own.split)
    assert joined.findings[-1][0].centre == (20.0, 30.0) and joined.findings[-1][0].radius == 3.0  # at 64 pixels
    assert set(np.unique(joined.masks[12:])) <= {0, 1}
    assert not set(joined.groups[:12]) & set(joined.groups[12:])
    with pytest.raises(DatasetError, match="unnamed masks"):
        other = make_phantom(n=4, size=64, seed=5)
        other.structures = ["heart"]
        with_shared(own, other)
