"""The out-of-distribution gate: profiles, mask statistics, image signals, and the verdict."""

from __future__ import annotations

import numpy as np
import pytest

from medlib.gate.profile import Profile, fit_profile, mask_statistics
from medlib.gate.signals import GateResult, image_signals
from medlib.store.card import ModelCard


def test_a_profile_passes_its_own_kind_and_flags_what_lies_far_away():
    rng = np.random.default_rng(0)
    covariance = np.diag([4.0, 1.0, 0.25, 1.0, 9.0])
    train, val, fresh = (rng.multivariate_normal(np.ones(5), covariance, n) for n in (800, 200, 400))
    profile = fit_profile(train, val)
    assert np.mean(profile.score(fresh) >= 1.0) < 0.02
    shifted = fresh + np.array([0.0, 0.0, 3.0, 0.0, 0.0])  # 6 standard deviations along the narrowest axis
    assert np.mean(profile.score(shifted) >= 1.0) > 0.95
    again = Profile.from_dict(profile.to_dict())
    assert np.allclose(again.score(fresh), profile.score(fresh), rtol=1e-4)


def test_nothing_to_profile_where_nothing_varies():
    assert fit_profile(np.ones((20, 3)), np.ones((5, 3))) is None


def test_two_lung_fields_read_as_two_balanced_components():
    probability = np.zeros((100, 100), np.float32)
    probability[20:80, 10:40] = 0.95
    probability[20:80, 60:90] = 0.9
    foreground, components, two_largest, left, row, column, unsure = mask_statistics(probability)
    assert foreground == pytest.approx(0.36) and components == 2 and two_largest == 1.0
    assert left == pytest.approx(0.5) and row == pytest.approx(0.495, abs=0.01) and column == pytest.approx(0.495)
    assert unsure == 0.0
    assert mask_statistics(np.zeros((10, 10)))[0] == 0.0


def test_image_signals_flag_blank_and_colour_pictures_but_not_a_gray_film_saved_as_rgb():
    rng = np.random.default_rng(1)
    film = rng.integers(0, 256, (64, 64, 1)).astype(np.float32)
    assert image_signals(film, gray_model=True) == {"blank": 0.0, "colour": 0.0}
    assert image_signals(np.repeat(film, 3, axis=-1), gray_model=True)["colour"] == 0.0
    assert image_signals(np.full((32, 32, 1), 77.0), gray_model=True)["blank"] == float("inf")
    assert image_signals(rng.integers(0, 256, (64, 64, 3)).astype(np.float32), gray_model=True)["colour"] > 1.0
    assert "colour" not in image_signals(film, gray_model=False)


CHEST_FILMS = ModelCard("classify", "cnn", [8, 8, 1], ["normal", "pneumonia"], modality="X-ray radiograph",
                        body_part="chest")
BRAIN_MRI = ModelCard("segment", "unet", [8, 8, 1], ["background", "hippocampus"], modality="MRI",
                      body_part="brain")


def test_dicom_tags_flag_other_modalities_and_body_parts_than_the_cards_name():
    film = np.random.default_rng(2).integers(0, 256, (32, 32, 1)).astype(np.float32)
    chest = [CHEST_FILMS]
    assert image_signals(film, True, {"Modality": "CR", "BodyPartExamined": "CHEST"}, chest)["tags"] == 0.0
    assert image_signals(film, True, {"Modality": "OT"}, chest)["tags"] == 0.0  # a secondary capture says nothing
    for tags in ({"Modality": "CT"}, {"Modality": "US"}, {"Modality": "CR", "BodyPartExamined": "EXTREMITY"}):
        assert image_signals(film, True, tags, chest)["tags"] == float("inf"), tags
    assert "tags" not in image_signals(film, True, {}, chest) and "tags" not in image_signals(film, True, None, chest)
    mri = {"Modality": "MR", "BodyPartExamined": "BRAIN"}
    assert image_signals(film, True, mri, [BRAIN_MRI])["tags"] == 0.0
    assert image_signals(film, True, mri, chest)["tags"] == float("inf")  # a brain MRI given to a chest model
    assert image_signals(film, True, {"Modality": "CR"}, [CHEST_FILMS, BRAIN_MRI])["tags"] == float("inf")
    unknown = ModelCard("classify", "cnn", [8, 8, 1], ["a", "b"])  # a card that names no modality expects none
    assert image_signals(film, True, {"Modality": "CT"}, [unknown])["tags"] == 0.0


def test_the_verdict_is_the_largest_signal_and_names_its_reasons():
    passed, flagged = GateResult({"blank": 0.0, "features": 0.4}), GateResult({"blank": 0.0, "features": 2.5})
    assert passed.in_distribution and passed.reasons == [] and passed.score == 0.4
    assert not flagged.in_distribution and flagged.reasons == ["it looks unlike the films the classifier learned from"]
    assert GateResult({"blank": float("inf")}).to_dict()["ood_score"] == 1e6
