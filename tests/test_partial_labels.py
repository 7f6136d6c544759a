"""Sets that label some structures only: a structure a set does not label is unknown on its images, not background,
so a run learns it from the sets that do; joined sets, lung fields split by side, and figures left out where a
structure is unknown."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medlib.datasets.combine import join, named
from medlib.datasets.dataset import Dataset
from medlib.datasets.partial import UNKNOWN, known, labelled_map, split_sides, unknown_values
from medlib.errors import DatasetError
from medlib.scoring.segmentation import split_metrics
from tests.helpers import FAST, two_structures


def _squares_only(dataset: Dataset, name: str) -> Dataset:
    """The set with its disks left unlabelled (a source that outlines the squares alone)."""
    return dataclasses.replace(dataset, name=name, masks=np.where(dataset.masks == 2, 0, dataset.masks).astype(
        np.uint8), structures=["square"])


def test_a_set_that_does_not_label_a_structure_marks_it_unknown_when_joined():
    full, partial = two_structures(10, seed=0), _squares_only(two_structures(6, seed=1), "squares")
    joined = join([full, partial])
    assert joined.structures == ["square", "disk"] and len(joined) == 16
    assert all(unknown_values(m) == [] for m in joined.masks[:10])
    assert all(unknown_values(m) == [2] for m in joined.masks[10:])  # the disk: not known on the squares' images
    assert all(known(m, 1) and not known(m, 2) for m in joined.masks[10:])
    assert np.array_equal(labelled_map(joined.masks[10:]) == 1, partial.masks == 1)  # the squares as they were
    assert "squares: 6 images labelling square" in joined.notes


def test_lung_fields_join_a_set_of_each_lung_split_by_side():
    lungs = np.zeros((40, 60), np.uint8)
    lungs[5:35, 5:25], lungs[5:35, 35:55] = 255, 255
    sides = split_sides(lungs)
    assert set(np.unique(sides[:, :30])) == {0, 1} and set(np.unique(sides[:, 30:])) == {0, 2}
    anatomy = Dataset("anatomy", np.zeros((2, 40, 60, 1), np.uint8), np.array(["train", "val"]), ["a", "b"],
                      masks=np.stack([sides, sides * 0]), structures=["right lung", "left lung", "heart"])
    fields = Dataset("fields", np.zeros((2, 20, 30, 1), np.uint8), np.array(["train", "test"]), ["c", "d"],
                     masks=np.stack([lungs[::2, ::2]] * 2))
    with pytest.raises(DatasetError, match="name its structure"):
        join([anatomy, fields])  # unnamed masks: nothing says they are lung fields
    joined = join([anatomy, named(fields, "lung field")])
    assert joined.structures == ["right lung", "left lung", "heart"] and joined.image_size == (40, 60)
    assert unknown_values(joined.masks[2]) == [3] and set(np.unique(labelled_map(joined.masks[2]))) == {0, 1, 2}
    assert "fields: 2 images labelling right lung, left lung (its lung fields split by side)" in joined.notes


def test_a_structure_unknown_on_an_image_is_left_out_of_its_figures():
    truth = np.zeros((8, 8), np.uint8)
    truth[1:4, 1:4] = 1
    unlabelled = np.where(truth == 0, UNKNOWN + 2, truth).astype(np.uint8)  # structure 2 not labelled
    maps = np.zeros((8, 8, 2), np.float32)
    maps[1:4, 1:4, 0] = 0.9
    maps[5:7, 5:7, 1] = 0.9  # structure 2 drawn where the image's set says nothing of it
    other = truth.copy()
    other[5:7, 5:7] = 2
    metrics = split_metrics([unlabelled, other], [maps, maps], structures=["square", "disk"], resamples=20)
    assert metrics["per_structure"]["square"]["dice"] == 1.0
    assert metrics["per_structure"]["disk"]["dice"] == 1.0  # judged on the image that labels it, alone


def test_a_run_on_a_mix_keeps_drawing_a_structure_on_the_images_whose_set_does_not_label_it(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.models.loaded import open_model
    from medlib.models.predict import sliding_window
    from medlib.training import TrainConfig, train

    full, partial = two_structures(30, seed=0), _squares_only(two_structures(60, seed=1), "squares")
    truth = two_structures(60, seed=1)  # the squares' images with their disks drawn
    learned = np.nonzero(partial.split != "test")[0]  # images the runs learned from, whose set draws no disk
    # the wrong way: the squares' images say "no disk" wherever they draw none
    naive = join([full, dataclasses.replace(partial, structures=["square", "disk"])])
    config = TrainConfig(task="segment", model="unet", seed=1, **{**FAST, "epochs": 12})
    inside = {}
    for name, dataset in (("naive", naive), ("partial", join([full, partial]))):
        train(config, tmp_path / name, dataset=dataset)
        model = open_model(tmp_path / name)
        pipeline, _ = model.pipeline_for(truth.images[0].shape, None)
        inside[name] = float(np.mean([sliding_window(model.model, pipeline.apply(truth.images[i])[0])[..., 1][
            truth.masks[i] == 2].mean() for i in learned]))
    assert inside["partial"] > 0.8, inside  # the disk learned from the set that labels it, drawn on the others'
    assert inside["partial"] > inside["naive"] + 0.05, inside  # not taught "no disk" where nobody said so


def test_info_says_which_joined_set_labels_what(tmp_path, capsys):
    import json

    import cv2

    from medlib.cli import main

    for name, value in (("lungs", 255), ("anatomy", None)):  # a set of lung fields; a set naming each lung and heart
        (tmp_path / name / "images").mkdir(parents=True)
        (tmp_path / name / "masks").mkdir()
        for k in range(4):
            film = np.full((40, 60), 60 + k, np.uint8)
            mask = np.zeros((40, 60), np.uint8)
            mask[5:35, 5:25] = value or 1
            mask[5:35, 35:55] = value or 2
            if value is None:
                mask[20:30, 26:34] = 3
            cv2.imwrite(str(tmp_path / name / "images" / f"f{k}.png"), film)
            cv2.imwrite(str(tmp_path / name / "masks" / f"f{k}.png"), mask)
    (tmp_path / "anatomy" / "labels.json").write_text(json.dumps(
        {"labels": {"0": "background", "1": "right lung", "2": "left lung", "3": "heart"}}))
    assert main(["info", str(tmp_path / "anatomy"), "--also", f"{tmp_path / 'lungs'}:lung field"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["images"] == 8 and summary["structures"] == ["right lung", "left lung", "heart"]
    assert "lungs: 4 images labelling right lung, left lung (its lung fields split by side)" in summary["notes"]


@pytest.mark.parametrize("shape", [(3, 8, 8, 2), (2, 4, 6, 6, 2)])
def test_the_loss_leaves_unknown_pixels_out_and_is_the_plain_loss_where_all_is_known(shape):
    keras = pytest.importorskip("keras")
    from medlib.models.losses import map_loss

    rng = np.random.default_rng(0)
    target = (rng.random(shape) > 0.7).astype("float32")
    output = rng.random(shape).astype("float32")
    loss = map_loss()
    plain = keras.ops.mean(keras.losses.binary_crossentropy(target, output), axis=(1, 2))
    overlap, total = np.sum(target * output, axis=(1, 2)), np.sum(target + output, axis=(1, 2))
    np.testing.assert_allclose(loss(target, output), plain + (1 - (2 * overlap + 1) / (total + 1)).mean(-1), atol=1e-5)
    unknown = target.copy()
    unknown[..., 1] = -1.0  # the second structure unknown everywhere: what the model draws there costs nothing
    changed = output.copy()
    changed[..., 1] = rng.random(shape[:-1])
    np.testing.assert_allclose(loss(unknown, output), loss(unknown, changed), atol=1e-6)
