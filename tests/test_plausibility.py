"""Outlines judged before anything is measured on them: present, in one main part, of an area and at a place within
what the training films showed; the cardiothoracic ratio only on plausible outlines, read for the film's view."""

from __future__ import annotations

import numpy as np
import pytest

from medlib.answers.anatomy import cardiothoracic_ratio, view_of
from medlib.scoring.plausibility import implausible, main_part, structure_ranges
from tests.conftest import ROOT
from tests.test_anatomy import STRUCTURES, _chest


def _films(count: int = 30, seed: int = 0) -> np.ndarray:
    """Chest maps like :func:`tests.test_anatomy._chest`, each moved by a few pixels."""
    rng = np.random.default_rng(seed)
    return np.stack([np.roll(_chest(), tuple(rng.integers(-3, 4, 2)), axis=(0, 1)) for _ in range(count)])


def test_a_structure_like_the_training_films_passes_and_one_unlike_them_is_named_with_why():
    ranges = structure_ranges(_films(), STRUCTURES)
    assert set(ranges) == set(STRUCTURES)
    labels = _chest()
    assert implausible(labels, STRUCTURES, ranges, {}) == {}
    missing = np.where(labels == 2, 0, labels)
    assert implausible(missing, STRUCTURES, ranges, {}) == {"left lung": "not found on this film"}
    spread = _chest(heart=(20, 80))  # a heart three times as wide: its area is outside the training range
    assert "its area" in implausible(spread, STRUCTURES, ranges, {})["heart"]
    moved = np.where(labels == 3, 0, labels)
    moved[80:100, 35:65] = 3  # the heart, of its own size, below the lungs
    assert "of the way down" in implausible(moved, STRUCTURES, ranges, {})["heart"]
    assert "in pieces" in implausible(labels, STRUCTURES, ranges, {"right lung": 0.6})["right lung"]


def test_the_main_part_is_the_largest_pieces_share():
    mask = np.zeros((10, 10), bool)
    mask[0:3, 0:3] = True  # 9 pixels
    mask[6:9, 6:7] = True  # 3 pixels
    assert main_part(mask) == pytest.approx(0.75) and main_part(np.zeros((4, 4), bool)) == 0.0


def test_the_ratio_names_the_view_and_an_ap_film_is_not_read_against_the_pa_limit():
    assert view_of({"ViewPosition": "AP "}) == "AP" and view_of({"ViewPosition": "LATERAL"}) is None
    enlarged = _chest(heart=(25, 75))
    pa = cardiothoracic_ratio(enlarged, STRUCTURES, view="PA")
    ap = cardiothoracic_ratio(enlarged, STRUCTURES, view="AP")
    assert pa["view"] == "PA" and "suggests an enlarged heart" in pa["reading"]
    assert ap["view"] == "AP" and "does not apply" in ap["reading"] and "enlarged heart" not in ap["reading"]
    assert "the view is not given" in cardiothoracic_ratio(enlarged, STRUCTURES)["reading"]


def test_the_shipped_anatomy_model_gives_no_ratio_on_an_outline_that_fails_its_checks():
    pytest.importorskip("tensorflow")
    from medlib.answers.diagnose import diagnose
    from medlib.input import read_image
    from medlib.models.loaded import open_model

    segmenter = open_model(ROOT / "models" / "cxr-anatomy")
    assert set(segmenter.card.structure_ranges) == set(STRUCTURES)
    adult = diagnose(read_image(ROOT / "samples" / "JPCLN012.png").frame(0)[..., None], segmenter=segmenter)
    assert adult.unreliable == {} and 0.4 < adult.measurements["cardiothoracic_ratio"] < 0.6
    film = read_image(ROOT / "samples" / "person1001_bacteria_2932.jpeg").frame(0)  # a child's, outside its population
    child = diagnose(film[..., None] if film.ndim == 2 else film, segmenter=segmenter)
    assert child.unreliable and "cardiothoracic_ratio" not in child.measurements
    assert any(note.startswith("no cardiothoracic ratio") for note in child.notes)
    assert child.to_dict()["unreliable_outlines"] == child.unreliable


def test_ranges_are_recorded_on_a_card_from_the_set_it_learned_from(shared_data, tmp_path):
    import json
    import shutil

    from medlib.cli import main

    model = tmp_path / "anatomy"
    shutil.copytree(ROOT / "models" / "cxr-anatomy", model)
    card = json.loads((model / "card.json").read_text())
    shipped = card.pop("structure_ranges")
    (model / "card.json").write_text(json.dumps(card))
    assert main(["ranges", "--model", str(model), "--data", str(shared_data / "jsrt")]) == 0
    recorded = json.loads((model / "card.json").read_text())["structure_ranges"]
    # the shipped model's run recorded them on its joined training films: the heart's from JSRT's alone, as here
    assert set(recorded) == set(shipped) and recorded["heart"] == shipped["heart"]
    assert main(["ranges", "--model", str(model), "--data", str(shared_data / "lung_shenzhen")]) != 0  # lungs only
