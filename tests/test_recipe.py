"""The default recipe derived from the data: it follows the fingerprint, and whatever the user sets wins."""

from __future__ import annotations

import numpy as np
import pytest

from medlib.datasets import Dataset
from medlib.datasets.split import assign_splits
from medlib.training import TrainConfig, resolve
from medlib.training.budget import (
    BUDGET_EPOCHS,
    BUDGET_STEPS,
    MIN_BATCH,
    MIN_PASSES,
    MIN_STEPS,
    UNET_WIDTH,
    batch_for_budget,
    width_for_budget,
)


def _masked(n: int, side: int, radius: int, dtype=np.uint8, low: float = 60, high: float = 200) -> Dataset:
    """``n`` images of ``side`` pixels, each with a bright square of half-side ``radius`` (its mask)."""
    rng = np.random.default_rng(0)
    images = rng.normal(low, 5, (n, side, side, 1)).round().astype(dtype)
    masks = np.zeros((n, side, side), np.uint8)
    for i in range(n):
        y, x = rng.integers(radius, side - radius, 2)
        masks[i, y - radius : y + radius, x - radius : x + radius] = 1
        images[i, masks[i] > 0] = high
    return Dataset("squares", images, assign_splits(n, None, seed=0), [str(i) for i in range(n)], masks=masks)


def test_small_images_are_taken_whole():
    recipe = resolve(TrainConfig(task="segment"), _masked(12, 96, 10))
    assert recipe.image_shape is None and recipe.input_shape == (96, 96, 1)
    assert recipe.choices["patch side"].value is None and recipe.choices["input side"].derived


def test_large_images_of_large_objects_are_shrunk_whole():
    recipe = resolve(TrainConfig(task="segment"), _masked(10, 600, 80))
    assert recipe.image_shape is None and recipe.input_shape == (256, 256, 1)
    assert recipe.choices["U-Net depth"].value == 4


def test_large_images_of_small_objects_get_patches_smaller_for_tinier_objects():
    tiny = resolve(TrainConfig(task="segment"), _masked(10, 600, 3))
    small = resolve(TrainConfig(task="segment"), _masked(10, 600, 20))
    assert tiny.image_shape == (600, 600, 1) and tiny.input_shape == (64, 64, 1)
    assert small.input_shape == (128, 128, 1) and tiny.patches_per_image == 64  # about 1,024 patches an epoch
    assert "patches" in tiny.choices["augmentation"].reason and "rotate" not in tiny.choices["augmentation"].value


def test_ct_gets_one_hounsfield_window_over_the_foreground():
    ct = _masked(10, 64, 8, dtype=np.int16, low=-800, high=40)
    recipe = resolve(TrainConfig(task="segment"), ct)
    window = dict(recipe.pipeline.steps)["window"]
    assert window["preset"] == "custom" and -100 < window["center"] < 100 and "Hounsfield" in \
        recipe.choices["preprocessing"].reason


def test_whatever_the_user_sets_wins_and_is_recorded_as_set():
    config = TrainConfig(task="segment", image_size=64, patch_size=32, patches_per_image=5, batch_size=4, epochs=3,
                         preprocess={"steps": [{"step": "resize", "params": {"height": 64}}]},
                         augment={"steps": []})
    recipe = resolve(config, _masked(10, 600, 3))
    assert recipe.input_shape == (32, 32, 1) and recipe.image_shape == (64, 64, 1) and recipe.patches_per_image == 5
    assert recipe.batch_size == 4 and recipe.epochs == 3 and not recipe.augmenter.steps
    for name in ("input side", "patch side", "patches per image", "batch size", "epochs", "preprocessing",
                 "augmentation"):
        assert not recipe.choices[name].derived, name


def test_training_length_follows_the_budget_or_a_number_of_steps():
    dataset = _masked(40, 32, 4)
    budgeted = resolve(TrainConfig(task="segment", max_minutes=3), dataset)
    assert budgeted.epochs == BUDGET_EPOCHS and "minutes" in budgeted.choices["epochs"].reason
    plain = resolve(TrainConfig(task="segment"), dataset)
    assert plain.epochs * plain.steps_per_epoch >= MIN_STEPS and plain.epochs >= 30


def test_a_slow_machine_gets_smaller_batches_so_the_budget_buys_enough_steps():
    fast, why = batch_for_budget(64, 600, 200.0)  # 1,875 steps of 64
    assert fast == 64 and "kept" in why
    slow, why = batch_for_budget(64, 600, 12.0)  # 7,200 samples: 1,800 steps of 4
    assert slow == 4 and "halved from 64 to 4" in why and "12 samples/s" in why
    assert 600 * 12.0 / slow >= BUDGET_STEPS
    hopeless, _ = batch_for_budget(64, 60, 1.0)
    assert hopeless == MIN_BATCH


def test_a_budget_that_buys_few_passes_gets_a_thinner_u_net():
    assert width_for_budget(900, 40.0, 1088)[0] == UNET_WIDTH  # 33 passes
    width, why = width_for_budget(600, 10.0, 1050)  # 5.7 passes
    assert width == UNET_WIDTH // 2 and "5.7 passes" in why and f"at least {MIN_PASSES}" in why


def test_a_time_budgeted_run_on_a_tiny_set_uses_its_budget(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.training import train

    result = train(TrainConfig(max_minutes=0.2, augment={"steps": []}), tmp_path / "budget",
                   dataset=_tiny_classes())
    card = result.stored.card
    assert card.recipe["epochs"]["value"] == BUDGET_EPOCHS and card.recipe["epochs"]["derived"]
    assert result.ended == "time budget" and card.training["seconds"] >= 0.2 * 60  # the budget ended it
    assert "samples/s on this machine" in card.recipe["batch size"]["reason"]  # measured before it started


def _tiny_classes() -> Dataset:
    rng = np.random.default_rng(1)
    labels = np.arange(40) % 2
    images = (rng.random((40, 12, 12, 1)) * 100 + labels[:, None, None, None] * 100).astype(np.uint8)
    return Dataset("tiny", images, assign_splits(40, labels, seed=0), [str(i) for i in range(40)], labels=labels,
                   class_names=["a", "b"])
