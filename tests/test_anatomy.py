"""Measurements on a chest film's anatomy: the cardiothoracic ratio on hand-drawn maps, and where a point lies."""

from __future__ import annotations

import numpy as np
import pytest

from medlib.answers.anatomy import cardiothoracic_ratio, has_anatomy, place

STRUCTURES = ["right lung", "left lung", "heart"]


def _chest(heart: tuple[int, int] = (40, 60)) -> np.ndarray:
    """A 100×100 map: the right lung (image left) columns 10-44, the left lung 56-89, rows 10-79 (the thorax
    widest, 10 to 89, on rows 40-79, narrower above); the heart's columns as given, rows 50-79."""
    labels = np.zeros((100, 100), np.uint8)
    labels[10:80, 10:45] = 1
    labels[10:80, 56:90] = 2
    labels[10:40, 10:15] = 0  # the apex narrower than the base
    labels[50:80, heart[0]:heart[1]] = 3
    return labels


def test_the_ratio_is_the_hearts_widest_extent_over_the_thorax_widest_inner_extent():
    ratio = cardiothoracic_ratio(_chest(), STRUCTURES, spacing=2.0)
    assert ratio["heart_width_px"] == 20 and ratio["thorax_width_px"] == 80
    assert ratio["cardiothoracic_ratio"] == 0.25 and ratio["heart_width_mm"] == 40.0
    assert "within the usual range" in ratio["reading"]
    enlarged = cardiothoracic_ratio(_chest(heart=(25, 75)), STRUCTURES)
    assert enlarged["cardiothoracic_ratio"] == pytest.approx(50 / 80, abs=1e-3) and "enlarged" in enlarged["reading"]


def test_no_ratio_without_both_lungs_and_the_heart():
    labels = _chest()
    assert cardiothoracic_ratio(np.where(labels == 3, 0, labels), STRUCTURES) is None
    assert cardiothoracic_ratio(labels, ["lungs", "heart"]) is None and not has_anatomy(["lungs", "heart"])


def test_a_point_is_placed_in_its_lung_and_zone_or_in_none():
    labels = _chest()
    assert place((20.0, 15.0), labels, STRUCTURES) == ("right lung", "upper")
    assert place((70.0, 45.0), labels, STRUCTURES) == ("left lung", "middle")
    assert place((70.0, 75.0), labels, STRUCTURES) == ("left lung", "lower")
    assert place((47.0, 45.0), labels, STRUCTURES, spacing=1.0) == ("right lung", "middle")  # 3 px outside
    assert place((50.0, 95.0), labels, STRUCTURES, spacing=1.0) is None  # 16 px below both lungs


def test_the_reference_masks_of_jsrt_give_ratios_of_adult_films(shared_data):
    from medlib.datasets import load_dataset

    films = load_dataset(shared_data / "jsrt")
    ratios = [cardiothoracic_ratio(films.masks[i], films.structures)["cardiothoracic_ratio"] for i in range(20)]
    assert 0.38 < np.median(ratios) < 0.55
