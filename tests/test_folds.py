"""Learning from little data: patient-grouped folds and their ensemble judged out of fold, a stored model's
weights copied wherever its layers match, and a locating model's candidates brought back onto the film."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from medlib.errors import ModelError
from medlib.training import folds as fold_runs
from medlib.training.folds import ENDINGS, fold_numbers
from medlib.training.scoring import Fitted
from tests.helpers import FAST, blobs, squares

pytest.importorskip("tensorflow")


def test_folds_never_split_a_patient_and_each_holds_both_classes():
    data = blobs(96)
    data = dataclasses.replace(data, groups=[f"patient{i // 3}" for i in range(len(data))])  # three films each
    index = np.arange(len(data))
    numbers = fold_numbers(data, index, 5, seed=1)
    for patient in set(data.groups):
        assert len({numbers[i] for i in index if data.groups[i] == patient}) == 1, patient
    for fold in range(5):
        assert set(data.labels[numbers == fold]) == {0, 1}
    assert np.array_equal(numbers, fold_numbers(data, index, 5, seed=1))  # seeded


@pytest.mark.parametrize("endings", [(a, b) for a in ENDINGS for b in ENDINGS])
def test_a_run_of_folds_is_kept_whichever_way_its_folds_end(endings, monkeypatch):
    """Every combination of two folds' endings gives one ensemble and one ending (five folds that all stopped early
    once ended the run in a bare StopIteration, its work lost); a stop request ends the run after its fold."""
    data = blobs(24)
    ends = iter(endings)

    class Ending:
        def __init__(self, *args):
            self.ended = next(ends)

        def fit(self, *args):
            pass

    monkeypatch.setattr(fold_runs, "Run", Ending)
    monkeypatch.setattr(fold_runs, "fitted_model", lambda run, dataset: Fitted(run.ended, [], [], [], run.ended, 1, 1))
    monkeypatch.setattr(fold_runs, "build_ensemble", tuple)
    plan = fold_runs.RunPlan(None, "", (8, 8, 1), 2, 4, None, None, None, data.indices("train"),
                             data.indices("val"), folds=2)
    plan.count_epochs = lambda config: None
    fitted = fold_runs.cross_validate(fold_runs.TrainConfig(), plan, data, None, print, None)
    ran = endings[:1] if endings[0] == "stopped" else endings
    assert [f["ended"] for f in fitted.folds] == list(ran)
    assert fitted.model == (ran if len(ran) > 1 else ran[0])
    assert fitted.ended == next(end for end in ENDINGS if end in ran)


def test_a_cross_validated_run_stores_the_ensemble_and_judges_it_out_of_fold(toy_locator):
    loaded, result, data = toy_locator
    card = loaded.card
    assert [f["fold"] for f in card.training["folds"]] == [1, 2] and card.recipe["folds"]["value"] == 2
    pooled = data.indices("train").size + data.indices("val").size
    assert result.metrics["val"]["n"] == pooled  # every training and validation image, once, out of fold
    assert sum(f["val_images"] for f in card.training["folds"]) == pooled
    assert [f["fold"] for f in result.metrics["folds"]] == [1, 2]
    assert card.threshold["chosen_on"] == f"out-of-fold val ({pooled} images)"
    assert {layer.name for layer in loaded.model.layers} >= {"fold0", "fold1", "mean_map"}
    assert result.metrics["test"]["sensitivity_at_1fp"] >= 0.7 and "froc" in result.metrics["test"]


def test_candidates_come_back_onto_a_film_given_at_eight_times_the_size(toy_locator):
    from medlib.answers.diagnose import diagnose

    loaded, _, data = toy_locator
    film = int(np.flatnonzero(data.labels == 1)[0])
    (nodule,) = data.findings[film]
    large = cv2.resize(data.images[film], (256, 256), interpolation=cv2.INTER_LINEAR)[..., None]
    result = diagnose(large, locator=loaded, spacing=(0.2, 0.2), work_side=64)
    best = result.to_dict()["findings"][0]
    expected = [(v + 0.5) * 8 - 0.5 for v in nodule.centre]
    assert np.allclose(best["centre"], expected, atol=8)  # within one pixel of the 32-pixel film
    assert best["radius_px"] == pytest.approx(nodule.radius * 8, rel=0.5)
    assert best["size_mm"] == pytest.approx(2 * best["radius_px"] * 0.2, rel=0.05)
    assert result.called() and result.to_dict()["findings"][0]["kind"] == "nodule"


def test_a_film_without_a_candidate_says_so(toy_locator):
    from medlib.answers.diagnose import diagnose

    loaded, _, _ = toy_locator
    result = diagnose(np.full((32, 32, 1), 0.4, np.float32), locator=loaded)
    assert not result.called() and result.to_dict()["findings"] == []
    assert any("no nodule candidate reaches the threshold" in note for note in result.notes)
    shown = diagnose(np.full((32, 32, 1), 0.4, np.float32), locator=loaded, candidate_threshold=0.0)
    assert shown.notes == result.notes  # the note is of the model's own threshold, whatever the user shows
    assert len(shown.called()) == len(shown.candidates) and shown.candidate_threshold == 0.0


def test_init_from_copies_exactly_the_layers_that_match_and_says_which(tmp_path):
    from medlib.models.architectures import build_model
    from medlib.training import TrainConfig, train
    from medlib.training.fit import copy_matching_weights

    source = build_model("resnet-small", (16, 16, 1), 3)
    target = build_model("resnet-small", (24, 24, 1), 2)  # another input size: the convolutions still match
    copied, kept = copy_matching_weights(source, target)
    assert "stem_conv" in copied and kept == ["probability"]  # a head of two classes, not three
    stem = [model.get_layer("stem_conv").get_weights()[0] for model in (source, target)]
    assert np.array_equal(*stem)
    first = train(TrainConfig(**{**FAST, "epochs": 1}), tmp_path / "first", dataset=blobs())
    again = train(TrainConfig(**{**FAST, "epochs": 1, "init_from": str(tmp_path / "first")}), tmp_path / "again",
                  dataset=blobs())
    facts = again.stored.card.training["init_from"]
    assert facts["model"] == "first" and facts["sha256"] == first.stored.card.sha256
    assert facts["layers_copied"] > 10 and facts["layers_new"] == []
    seed = train(TrainConfig(**{**FAST, "epochs": 1, "model": "seed-cnn", "init_from": str(tmp_path / "first")}),
                 tmp_path / "seed", dataset=blobs(size=24))
    facts = seed.stored.card.training["init_from"]  # another architecture: only its head has the same name and shape
    assert facts["layers_copied"] == 1 and facts["layers_new"] == ["conv32", "conv64", "conv128", "hidden"]
    with pytest.raises(ModelError, match="no layer of first"):  # a U-Net shares nothing with a residual CNN
        train(TrainConfig(**{**FAST, "epochs": 1, "task": "segment", "init_from": str(tmp_path / "first")}),
              tmp_path / "unet", dataset=squares())
