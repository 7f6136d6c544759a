"""Segmentation: a tiny U-Net learns a planted shape, tiled inference, metrics, lesion findings, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medlib.cli import main
from medlib.datasets import Dataset
from medlib.datasets.split import assign_splits
from medlib.models.predict import sliding_window
from medlib.scoring.segmentation import find_lesions, hd95, mask_metrics, split_metrics
from medlib.spec import SpecError
from medlib.training import TrainConfig, resolve, train

pytest.importorskip("tensorflow")


def discs(n: int = 64, size: int = 32, seed: int = 0) -> Dataset:
    """A bright disc of random place and radius in noise; its mask is the disc."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = rng.normal(0.3, 0.08, (n, size, size, 1)).astype(np.float32)
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        r = rng.uniform(3, 7)
        cy, cx = rng.uniform(r + 1, size - r - 1, 2)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        images[i, disc, 0] += 0.4
        masks[i] = disc
    return Dataset("discs", images, assign_splits(n, None, seed=seed), [f"d{i}" for i in range(n)], masks=masks,
                   synthetic=True)


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    root = tmp_path_factory.mktemp("unet")
    data = discs()
    config = TrainConfig(task="segment", epochs=12, learning_rate=5e-3, early_stopping=0, augment={"steps": []})
    result = train(config, root / "discs", dataset=data)
    return root / "discs", data, result


def test_a_tiny_unet_learns_a_planted_shape(unet):
    path, data, result = unet
    assert result.metrics["val"]["dice"] > 0.7  # chance (a random mask of the same area) is about 0.1


def test_segmentation_reports_a_finite_validation_loss_that_falls(unet):
    losses = [row["val_loss"] for row in unet[2].history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_a_segmenter_card_holds_the_shape_profile_of_its_gate(unet):
    card = json.loads((unet[0] / "card.json").read_text())
    assert card["gate"]["shape"]["threshold"] > 0 and "discs: " in card["gate"]["fitted_on"][0]


def test_cli_evaluate_prints_every_segmentation_metric_with_intervals(unet, tmp_path, capsys):
    path, data, _ = unet
    np.savez(tmp_path / "discs.npz", train_images=data.images[:8, ..., 0], train_masks=data.masks[:8],
             test_images=data.images[40:, ..., 0], test_masks=data.masks[40:])
    assert main(["evaluate", "--model", str(path), "--data", str(tmp_path / "discs.npz")]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for name in ("dice", "iou", "sensitivity", "specificity", "hd95", "auc"):
        low, high = metrics[f"{name}_ci"]
        assert low <= metrics[name] <= high, name
    assert metrics["dice"] > 0.7 and metrics["auc"] > 0.95 and metrics["n"] == 24


def test_tiled_inference_equals_whole_image_inference_on_one_tile(unet):
    from medlib.models.loaded import open_model

    loaded = open_model(unet[0])
    image, _ = loaded.pipeline.apply(unet[1].images[0])
    whole = np.asarray(loaded.model.predict_on_batch(image[None]))[0]  # H×W×1: one map per structure
    assert np.allclose(sliding_window(loaded.model, image), whole, atol=1e-6)
    views = ((), (1,), (0,), (0, 1))
    mirrored = [np.flip(loaded.model.predict_on_batch(np.flip(image, axes)[None])[0], axes) for axes in views]
    assert np.allclose(sliding_window(loaded.model, image, mirrors=views), np.mean(mirrored, axis=0), atol=1e-6)
    big = np.tile(image, (3, 2, 1))[:80, :50]  # larger than a tile, and not a multiple of it
    tiled = sliding_window(loaded.model, big)
    assert tiled.shape == (80, 50, 1) and 0.0 <= tiled.min() and tiled.max() <= 1.0


def test_lesion_boxes_match_planted_components():
    probability = np.zeros((40, 60), np.float32)
    probability[5:10, 8:20] = 0.9  # 5 × 12
    probability[25:35, 40:44] = 0.7  # 10 × 4
    probability[30, 5] = 0.95  # one pixel: below the minimum size
    lesions = find_lesions(probability, spacing=(0.5, 0.5))
    assert [f["box"] for f in lesions] == [[8, 5, 20, 10], [40, 25, 44, 35]]
    assert [f["area_px"] for f in lesions] == [60, 40]
    assert [f["area_mm2"] for f in lesions] == [15.0, 10.0]
    assert lesions[0]["mean_probability"] == pytest.approx(0.9)
    assert find_lesions(np.zeros((5, 5))) == []


def test_mask_metrics_on_known_masks_and_field_of_view():
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 1
    shifted = np.roll(truth, 2, axis=1).astype(float)
    m = mask_metrics(truth, shifted)
    assert m["dice"] == pytest.approx(2 * 80 / 200) and m["iou"] == pytest.approx(80 / 120)
    assert m["sensitivity"] == pytest.approx(0.8) and m["hd95"] == pytest.approx(2.0)
    fov = np.zeros((20, 20), np.uint8)
    fov[:, :12] = 1  # the disagreement on the right lies outside the field of view
    inside = mask_metrics(truth, shifted, fov=fov)
    assert inside["sensitivity"] == pytest.approx(50 / 70)
    assert hd95(np.zeros((4, 4)), np.zeros((4, 4))) == 0.0 and hd95(truth, np.zeros_like(truth)) == float("inf")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_split_metrics_agree_with_per_image_means_and_the_pixel_auc(seed):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    truths = [(rng.random((12, 12)) < 0.3).astype(np.uint8) for _ in range(5)]
    probabilities = [np.clip(t * 0.4 + rng.random((12, 12)) * 0.6, 0, 1) for t in truths]
    result = split_metrics(truths, probabilities, resamples=200)
    assert result["dice"] == pytest.approx(np.mean([mask_metrics(t, p)["dice"] for t, p in
                                                    zip(truths, probabilities, strict=True)]), abs=1e-4)
    pixels = np.concatenate([p.ravel() for p in probabilities])
    pooled = roc_auc_score(np.concatenate([t.ravel() for t in truths]), pixels)
    assert result["auc"] == pytest.approx(pooled, abs=2e-3)  # binned at 1/1024


def test_patch_training_learns_and_is_scored_on_whole_images_in_tiles(tmp_path):
    data = discs(24, size=64, seed=3)
    config = TrainConfig(task="segment", epochs=10, learning_rate=5e-3, early_stopping=0, augment={"steps": []},
                         patch_size=32, patches_per_image=6)
    events = []
    result = train(config, tmp_path / "patches", dataset=data, progress=events.append)
    start = next(e for e in events if e["event"] == "start")
    assert start["input_shape"] == [32, 32, 1] and any("random 32×32 patches" in n for n in start["notes"])
    assert result.metrics["test"]["dice"] > 0.6 and result.metrics["test"]["n"] == int(data.indices("test").size)
    with pytest.raises(SpecError, match="multiple of 8"):
        resolve(TrainConfig(task="segment", patch_size=20), data)
