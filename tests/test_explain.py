"""Every explanation method on models trained to see a planted bright square: the heat map points at the square."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medlib.cli import main
from medlib.models.architectures import ModelError
from medlib.models.explanations import explain_images
from medlib.models.heatmaps import (
    METHODS,
    heatmap_iou,
    heatmaps,
    last_spatial_layer,
    localization,
    overlay,
    pointing_hit,
)
from medlib.models.loaded import open_model
from medlib.scoring.classification import predicted_classes
from tests.helpers import SIZE

pytest.importorskip("tensorflow")


# seed-cnn's unpadded convolutions shrink its maps, which are then stretched back over the whole input: its
# maximum lands up to a few pixels off (0.68-0.78 measured); the default classifier's padded maps stay aligned (1.0).
@pytest.mark.parametrize(("name", "floor"), [("resnet", 0.9), ("seed", 0.6)])
@pytest.mark.parametrize("method", METHODS)
def test_heat_map_points_at_the_planted_square(toy_classifiers, name, floor, method):
    root, data = toy_classifiers
    loaded = open_model(root / name)
    index = np.flatnonzero(data.labels == 1)[:40]
    heat, inputs, masks = explain_images(loaded, data, index, method)
    assert heat.shape == (40, SIZE, SIZE) and inputs.shape == (40, SIZE, SIZE, 1)
    assert heat.min() >= 0.0 and np.allclose(heat.max(axis=(1, 2)), 1.0)
    scores = localization(heat, masks)
    assert scores["pointing_game"] >= floor, scores
    assert scores["n_lesions"] == 40


def test_the_last_feature_map_is_found_and_a_dense_only_model_is_refused(toy_classifiers):
    import keras

    loaded = open_model(toy_classifiers[0] / "resnet")
    assert last_spatial_layer(loaded.model).startswith("stage")
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    with pytest.raises(ModelError, match="no convolutional feature map"):
        heatmaps(dense, np.zeros((1, 4), np.float32))
    with pytest.raises(ModelError, match="unknown explanation method"):
        heatmaps(loaded.model, np.zeros((1, SIZE, SIZE, 1), np.float32), method="magic")


def test_the_predicted_class_is_explained_by_default_and_the_model_still_saves(toy_classifiers, tmp_path):
    import keras

    loaded = open_model(toy_classifiers[0] / "resnet")
    data = toy_classifiers[1]
    index = [*np.flatnonzero(data.labels == 0)[:3], *np.flatnonzero(data.labels == 1)[:3]]
    images = np.stack([loaded.pipeline.apply(data.images[k])[0] for k in index])
    predicted = predicted_classes(loaded.model.predict_on_batch(images))
    assert set(predicted) == {0, 1}  # both classes among the six, so a wrong default would show
    for method in METHODS:
        np.testing.assert_allclose(heatmaps(loaded.model, images, method=method),
                                   heatmaps(loaded.model, images, predicted, method=method), atol=1e-6)
    other = heatmaps(loaded.model, images, 1 - predicted)
    assert not np.allclose(other, heatmaps(loaded.model, images))
    loaded.model.save(tmp_path / "explained.keras")  # the compiled passes kept on the model are not saved with it
    again = keras.saving.load_model(tmp_path / "explained.keras")
    np.testing.assert_allclose(again.predict_on_batch(images), loaded.model.predict_on_batch(images), atol=1e-6)


def test_localization_scores_on_known_maps():
    mask = np.zeros((10, 10), np.uint8)
    mask[2:5, 2:5] = 1
    inside, outside = np.zeros((10, 10)), np.zeros((10, 10))
    inside[3, 3] = outside[8, 8] = 1.0
    assert pointing_hit(inside, mask) and not pointing_hit(outside, mask)
    assert heatmap_iou(mask.astype(float), mask) == 1.0
    assert localization(np.stack([inside, outside]), np.stack([mask, mask]))["pointing_game"] == 0.5
    picture = overlay(np.zeros((20, 20), np.uint8), inside)
    assert picture.shape == (20, 20, 3) and picture.dtype == np.uint8


def test_cli_explain_writes_overlays_and_scores(toy_classifiers, tmp_path, capsys):
    root, data = toy_classifiers
    np.savez(tmp_path / "squares.npz", train_images=data.images[:20, ..., 0], train_labels=data.labels[:20],
             test_images=data.images[100:140, ..., 0], test_labels=data.labels[100:140])
    out = tmp_path / "overlays"
    code = main(["explain", "--model", str(root / "resnet"), "--data", str(tmp_path / "squares.npz"),
                 "--out", str(out), "--limit", "5"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["written"] == 5 and len(list(out.glob("*.png"))) == 5
    assert result["images"] == 40 and "pointing_game" not in result  # an .npz brings no masks
