"""Candidates from a locating model's map and their FROC scores, checked against counts worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from medlib.scoring.candidates import candidate_scores, find_candidates, hit_margin, match
from medlib.targets import Finding


def candidate(centre: tuple[float, float], radius: float, score: float) -> Finding:
    """A model's candidate: a scored finding."""
    return Finding("nodule", centre, radius, score=score)


def test_froc_on_hand_made_candidates_gives_the_hand_counts():
    # Three films, two nodules (radius 2 px), margin 1 px (5 mm at 5 mm a pixel):
    # film 1: a hit at 0.9, a false candidate at 0.6; film 2: a false candidate at 0.8, the nodule hit at 0.3;
    # film 3 (no nodule): a false candidate at 0.7.
    films = [[candidate((10, 10), 2, 0.9), candidate((40, 40), 2, 0.6)],
             [candidate((5, 40), 2, 0.8), candidate((21, 20), 2, 0.3)],
             [candidate((30, 30), 2, 0.7)]]
    nodules = [[Finding("nodule", (10.5, 10.0), 2.0)], [Finding("nodule", (20.0, 20.0), 2.0)], []]
    scores = candidate_scores(films, nodules, spacing=5.0, resamples=200)
    # Ranked: 0.9 hit, 0.8 FP, 0.7 FP, 0.6 FP, 0.3 hit. FPs per film after each: 0, 1/3, 2/3, 1, 1.
    assert scores["sensitivity_at_0.125fp"] == 0.5  # only the 0.9 hit before the first false positive
    assert scores["sensitivity_at_0.5fp"] == 0.5 and scores["sensitivity_at_1fp"] == 1.0
    assert scores["froc"][3][:2] == [1.0, 1.0] and scores["findings"] == 2 and scores["images"] == 3
    # Best score per film: 0.9 and 0.8 (nodules), 0.7 (none): the image-level AUC is 1.
    assert scores["image_auc"] == 1.0 and scores["hit_margin_px"] == 1.0


def test_a_candidate_beyond_the_radius_and_margin_misses_and_a_second_hit_is_ignored():
    nodule = Finding("nodule", (0.0, 0.0), 3.0)
    assert match([candidate((3.9, 0), 1, 0.5)], [nodule], 1.0)[1].tolist() == [1]
    assert match([candidate((4.1, 0), 1, 0.5)], [nodule], 1.0)[1].tolist() == [0]
    assert match([candidate((0, 0), 1, 0.9), candidate((1, 1), 1, 0.8)], [nodule], 1.0)[1].tolist() == [1, -1]
    box = Finding("mass", (5.0, 5.0), box=(2.0, 2.0, 8.0, 8.0))
    assert match([candidate((9.5, 5), 1, 0.5)], [box], 2.0)[1].tolist() == [1]
    assert hit_margin(1.6) == pytest.approx(3.125) and hit_margin(None) == 3.0


def test_candidates_are_ranked_by_their_peak_with_a_disk_sized_radius():
    probability = np.zeros((40, 40), np.float32)
    rows, columns = np.mgrid[:40, :40]
    probability[(rows - 10) ** 2 + (columns - 30) ** 2 <= 9] = 0.6
    probability[(rows - 30) ** 2 + (columns - 8) ** 2 <= 16] = 0.95
    found = find_candidates(probability)
    assert [c.score for c in found] == [0.95, 0.6]
    assert found[0].centre == (8.0, 30.0) and found[1].centre == (30.0, 10.0)
    assert found[0].radius == pytest.approx(4.0, abs=0.3) and found[1].radius == pytest.approx(3.0, abs=0.3)
