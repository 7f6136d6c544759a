"""Invertible geometry: any seeded chain of steps moves a label map and points together, and its inverse brings
them back (points within half a pixel; the label map exactly where the steps are lossless), in 2-D and 3-D."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medlib.geometry import Crop, Flip, Pad, Record, Scale, Turn, fit_record


@st.composite
def lossless_chains(draw, dims: int):
    """A shape of ``dims`` axes and a chain of flips, quarter turns, crops and pads valid on it."""
    shape = tuple(draw(st.integers(3, 12)) for _ in range(dims))
    steps, current = [], shape
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["flip", "turn", "crop", "pad"]))
        if kind == "flip":
            step = Flip(draw(st.integers(0, dims - 1)))
        elif kind == "turn":
            axes = tuple(draw(st.permutations(range(dims)))[:2])
            step = Turn(draw(st.integers(1, 3)), axes)
        elif kind == "crop":
            box = []
            for n in current:
                start = draw(st.integers(0, n - 1))
                box.append((start, draw(st.integers(start + 1, n))))
            step = Crop(tuple(box))
        else:
            step = Pad(tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in current))
        steps.append(step)
        current = step.shape_out(current)
    return shape, Record(tuple(steps))


def _check_lossless(shape, record):
    label_map = np.arange(1, int(np.prod(shape)) + 1, dtype=np.int32).reshape(shape)  # every pixel its own value
    moved = record.move(label_map, nearest=True, fill=0)
    assert moved.shape == record.shape_out(shape)
    # every pixel's centre moves to where its value went (the points and the map agree)
    points = np.argwhere(np.ones(shape, bool)).astype(np.float64)
    after = record.move_points(points, shape)
    kept = np.isin(label_map[tuple(points.astype(int).T)], moved)  # the pixels that no crop cut off
    at = np.round(after[kept]).astype(int)
    assert np.array_equal(moved[tuple(at.T)], label_map[tuple(points[kept].astype(int).T)])
    # and back: the points within half a pixel, the map exactly over what the steps kept
    assert np.abs(record.restore_points(after, shape) - points).max() < 0.5
    back = record.restore_map(moved, shape, nearest=True)
    seen = np.isin(label_map, moved)
    assert back.shape == shape and np.array_equal(back[seen], label_map[seen]) and not back[~seen].any()


@settings(max_examples=60, deadline=None)
@given(lossless_chains(2))
def test_a_lossless_chain_comes_back_exactly_in_2d(chain):
    _check_lossless(*chain)


@settings(max_examples=60, deadline=None)
@given(lossless_chains(3))
def test_a_lossless_chain_comes_back_exactly_in_3d(chain):
    _check_lossless(*chain)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(4, 60), min_size=2, max_size=3), st.lists(st.integers(4, 60), min_size=3, max_size=3),
       st.booleans(), st.data())
def test_a_resize_brings_points_back_within_half_a_pixel(size, target, keep_aspect, data):
    size, target = tuple(size), tuple(target[: len(size)])
    record = fit_record(size, target, keep_aspect).then(Flip(0))
    points = np.array([[data.draw(st.floats(0, n - 1)) for n in size] for _ in range(5)])
    assert np.abs(record.restore_points(record.move_points(points, size), size) - points).max() < 0.5
    assert record.move(np.zeros(size, np.float32)).shape == target


def test_a_disk_moves_with_its_centre_through_a_resize_and_pad():
    image = np.zeros((40, 80), np.uint8)
    image[9:12, 59:62] = 1  # a 3-pixel square around row 10, column 60
    record = fit_record((40, 80), (64, 64), keep_aspect=True)
    moved = record.move(image, nearest=True, fill=0)
    centre = record.move_points(np.array([[10.0, 60.0]]), (40, 80))[0]
    assert np.abs(np.argwhere(moved).mean(axis=0) - centre).max() < 1.0
    assert record.factor() == pytest.approx(0.8)


def test_a_record_survives_json():
    record = Record((Scale((10, 20), (5, 10)), Pad(((1, 2), (0, 0))), Crop(((0, 6), (1, 9))), Flip(1),
                     Turn(3, (1, 0))))
    assert Record.from_dict(record.to_dict()) == record
