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


def test_a_detectors_hand_made_centre_maps_decode_into_the_expected_circles_and_overlaps_merge():
    from medlib.scoring.candidates import decode_centres

    maps = np.zeros((40, 50, 2), np.float32)
    for (x, y), peak, radius in (((10, 8), 0.9, 4.0), ((13, 8), 0.6, 2.0), ((40, 30), 0.4, 3.0), ((25, 20), 0.01, 5)):
        maps[y - 1:y + 2, x - 1:x + 2, 0] = peak / 2  # a bump: its peak in the middle
        maps[y, x, 0], maps[y, x, 1] = peak, radius
    found = decode_centres(maps, ["nodule"])["nodule"]
    # (13, 8) lies inside the better circle at (10, 8) and merges into it; (25, 20) is under the floor
    assert [(c.centre, c.radius, c.score) for c in found] == [((10.0, 8.0), 4.0, 0.9), ((40.0, 30.0), 3.0, 0.4)]
    boxes = [(c.centre[0] - c.radius, c.centre[1] - c.radius, c.centre[0] + c.radius, c.centre[1] + c.radius)
             for c in found]
    assert boxes == [(6.0, 4.0, 14.0, 12.0), (37.0, 27.0, 43.0, 33.0)]
    assert decode_centres(np.zeros((8, 8, 2), np.float32), ["nodule"]) == {"nodule": []}


def test_each_images_share_of_the_cpm_adds_up_to_the_froc_points_mean():
    from medlib.scoring.candidates import FP_RATES, cpm_per_image

    rng = np.random.default_rng(0)
    images, truths = [], []
    for _ in range(30):
        truth = [Finding("nodule", tuple(rng.uniform(10, 90, 2)), 3.0) for _ in range(rng.integers(0, 3))]
        found = [candidate(tuple(rng.uniform(10, 90, 2)), 3.0, float(rng.uniform())) for _ in range(4)]
        found += [candidate((t.centre[0] + 1, t.centre[1]), 3.0, float(rng.uniform())) for t in truth[:1]]
        images.append(sorted(found, key=lambda c: -c.score))
        truths.append(truth)
    shares = cpm_per_image(images, truths)
    froc = candidate_scores(images, truths, resamples=10)
    assert shares.mean() == pytest.approx(np.mean([froc[f"sensitivity_at_{r:g}fp"] for r in FP_RATES]), abs=1e-3)
    assert (shares[[not t for t in truths]] == 0).all()  # an image without a finding adds nothing
