"""Augmentation: every transform keeps dtype, shape, binary aligned masks; seeded; JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medlib.augment import TRANSFORMS, Augmenter, default_augmenter, load_augmenter, make_augmenter
from medlib.preprocessing.pipeline import default_pipeline
from medlib.spec import SpecError
from tests.strategies import step_params

GEOMETRIC = sorted(name for name, kind in TRANSFORMS.items() if kind.group == "geometric")


def _blob_mask(size: int, seed: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    rng = np.random.default_rng(seed)
    cy, cx, r = rng.uniform(size * 0.3, size * 0.7, 2).tolist() + [rng.uniform(size * 0.1, size * 0.25)]
    return (((yy - cy) ** 2 + (xx - cx) ** 2) < r**2).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_transform_keeps_dtype_shape_range_and_binary_masks(name, data):
    params = {**data.draw(step_params(TRANSFORMS[name])), "p": 1.0}
    channels = data.draw(st.sampled_from([1, 3]))
    constant = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    image = np.full((48, 40, channels), 0.5, np.float32) if constant else rng.random((48, 40, channels), np.float32)
    mask = (rng.random((48, 40)) > 0.7).astype(np.uint8)
    augmenter = Augmenter([(name, params)])
    first = augmenter.variants(image, mask, n=2, seed=5)
    second = augmenter.variants(image, mask, n=2, seed=5)
    for a, b in zip(first, second, strict=True):
        assert a.image.dtype == np.float32 and a.image.shape == image.shape
        assert np.isfinite(a.image).all() and 0.0 <= a.image.min() and a.image.max() <= 1.0
        assert a.mask.shape == mask.shape and set(np.unique(a.mask)) <= {0, 1}
        assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
        assert a.applied and a.applied[0]["transform"]


@pytest.mark.parametrize("name", GEOMETRIC)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_geometric_transforms_move_the_mask_with_the_image(name, data):
    params = {**data.draw(step_params(TRANSFORMS[name])), "p": 1.0}
    mask = _blob_mask(64, data.draw(st.integers(0, 1000)))
    image = mask[..., None].astype(np.float32)  # thresholding the image gives the mask
    variant = Augmenter([(name, params)]).variants(image, mask, n=1, seed=data.draw(st.integers(0, 99)))[0]
    from_image = variant.image[..., 0] > 0.5
    disagree = np.count_nonzero(from_image != variant.mask.astype(bool))
    boundary = max(np.count_nonzero(variant.mask), 1) ** 0.5 * 4 + 4  # interpolation differs only at edges
    assert disagree <= boundary


def test_different_seeds_give_different_variants_and_draws_are_independent():
    image = np.random.default_rng(0).random((32, 32, 1), np.float32)
    augmenter = make_augmenter(("hflip", {"p": 0.5}), ("vflip", {"p": 0.5}))
    flips = [tuple(sorted(a["transform"] for a in v.applied)) for v in augmenter.variants(image, n=200, seed=1)]
    # Independent coin flips: each of the four combinations turns up.
    assert {(), ("HorizontalFlip",), ("VerticalFlip",), ("HorizontalFlip", "VerticalFlip")} <= set(flips)
    one, two = augmenter.variants(image, n=8, seed=1), augmenter.variants(image, n=8, seed=2)
    assert any(not np.array_equal(a.image, b.image) for a, b in zip(one, two, strict=True))


def test_preprocessed_16_bit_constant_image_survives_every_transform():
    image, _ = default_pipeline(32).apply(np.full((50, 60), 4095, np.uint16))
    for variant in make_augmenter(*[(n, {"p": 1.0}) for n in TRANSFORMS]).variants(image, n=3, seed=0):
        assert np.isfinite(variant.image).all() and variant.image.shape == (32, 32, 1)


def test_apply_fn_for_training_draws_anew_each_call():
    image = np.random.default_rng(0).random((32, 32, 1), np.float32)
    apply = make_augmenter(("rotate", {"limit": 45.0, "p": 1.0})).apply_fn(image.shape, seed=3)
    first, _ = apply(image)
    second, _ = apply(image)
    assert first.shape == image.shape and not np.array_equal(first, second)


@pytest.mark.parametrize("kind", ["chest", "fundus", "patches"])
def test_default_specs_round_trip_through_json(kind):
    augmenter = default_augmenter(kind)
    assert load_augmenter(augmenter.to_json()).to_dict() == augmenter.to_dict()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"steps": [{"step": "mixup"}]}, "unknown augment step 'mixup'"),
        ({"steps": [{"step": "rotate", "params": {"p": 1.5}}]}, r"p=1.5 is out of range"),
        ({"steps": [{"step": "rotate", "params": {"limit": -5}}]}, "limit=-5.0 is out of range"),
        ({"medlib": "preprocess", "steps": []}, "not a augment spec"),
    ],
)
def test_bad_augmentation_specs(spec, message):
    with pytest.raises(SpecError, match=message):
        load_augmenter(spec)
    with pytest.raises(SpecError, match="chest"):
        default_augmenter("knee")


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_points_and_a_label_map_move_with_the_image_under_the_same_draw(seed):
    """A disk of structure 2 drawn around a point stays around the point, whatever the geometric draw."""
    size = 64
    yy, xx = np.mgrid[:size, :size]
    centre = (40.0, 20.0)
    labels = np.where((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= 16, 2, 0).astype(np.uint8)
    labels[50:60, 5:15] = 1
    image = (labels / 2.0).astype(np.float32)[..., None]
    augmenter = make_augmenter(("affine", {"p": 1.0, "shift": 0.1, "rotate": 30.0, "scale": 0.1}),
                               ("hflip", {"p": 0.5}), ("vflip", {"p": 0.5}))
    (variant,) = augmenter.variants(image, labels, n=1, seed=seed, points=np.array([centre]))
    assert set(np.unique(variant.mask).tolist()) <= {0, 1, 2}  # nearest: no value between structures
    disk = np.argwhere(variant.mask == 2)
    if len(disk) > 20:  # still (mostly) in view
        assert np.abs(disk.mean(axis=0)[::-1] - variant.points[0]).max() < 1.5
