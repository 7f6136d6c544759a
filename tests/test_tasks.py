"""The task registry and the typed model card: each task says what it needs and trains from it, a multi-structure
label map trains one map per structure, located findings train a locating model scored as candidates, and the
card is read by attribute whatever version wrote it."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from medlib.errors import DatasetError, SpecError, StoreError
from medlib.store.card import ModelCard
from medlib.targets import Finding, render_findings
from medlib.tasks import TASKS, check_task, task_for, tasks_for
from tests.helpers import FAST, blobs, spots, squares, two_structures


def test_each_task_says_what_it_needs_and_which_tasks_fit_instead():
    assert [t.name for t in tasks_for(blobs())] == ["classify"]
    assert [t.name for t in tasks_for(squares())] == ["classify", "segment"]
    assert [t.name for t in tasks_for(spots())] == ["classify", "locate", "detect"]
    with pytest.raises(DatasetError, match="has no label maps .* use classify"):
        check_task(TASKS["segment"], blobs())
    with pytest.raises(DatasetError, match="located findings"):
        check_task(TASKS["locate"], squares())
    with pytest.raises(SpecError, match="unknown task 'track'"):
        task_for("track")


def test_a_locating_task_trains_on_its_findings_drawn_as_disks():
    data = spots()
    training = TASKS["locate"].training_set(data)
    assert data.finding_labels() == ["nodule"] and training.structures == ["nodule"]
    assert TASKS["locate"].target_names(data) == ["background", "nodule"]
    for i in (0, 1):
        expected = render_findings(data.findings[i], data.image_size, ["nodule"])
        assert np.array_equal(training.masks[i], expected) and (expected.any() == bool(data.labels[i]))
    assert data.masks is None  # the set itself is not changed


def test_the_card_reads_by_attribute_keeps_unknown_keys_and_refuses_what_it_cannot_be():
    data = {"task": "segment", "architecture": "unet", "input_shape": [64, 64, 1],
            "class_names": ["background", "right lung", "left lung", "heart"], "modality": "X-ray radiograph",
            "body_part": "chest", "future_key": {"kept": True}, "file": {"size": 3, "sha256": "ab"}}
    card = ModelCard.from_dict(data)
    assert card.structures == ["right lung", "left lung", "heart"] and card.spec.name == "segment"
    assert card.size == 3
    assert card.to_dict()["future_key"] == {"kept": True}
    assert ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card
    with pytest.raises(StoreError, match="lacks class_names"):
        ModelCard.from_dict({k: v for k, v in data.items() if k != "class_names"})
    with pytest.raises(StoreError, match="modality 'ultrasound' is unknown"):
        ModelCard.from_dict({**data, "modality": "ultrasound"})
    with pytest.raises(SpecError, match="unknown task"):
        ModelCard.from_dict({**data, "task": "track"})


def test_the_shipped_cards_are_typed_and_say_what_they_learned_from():
    from medlib.store.folders import list_models, shipped_store

    cards = {m.name: m.card for m in list_models(shipped_store())}
    assert cards["cxr-pneumonia"].positive_class == "PNEUMONIA" and cards["cxr-pneumonia"].threshold_value > 0.5
    films = [c for c in cards.values() if c.dimensions == 2]
    assert {c.modality for c in films} == {"X-ray radiograph"} and {c.body_part for c in films} == {"chest"}
    volume = cards["mri-hippocampus"]
    assert (volume.modality, volume.body_part, volume.dimensions) == ("MRI", "brain", 3)
    assert "Decathlon" in volume.provenance and "CC-BY-SA" in volume.license
    assert "children" in cards["cxr-pneumonia"].population and "adults" in cards["cxr-lungs"].population


def test_a_multi_structure_set_trains_one_map_per_structure_and_is_scored_per_structure(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.training import TrainConfig, train

    result = train(TrainConfig(**{**FAST, "task": "segment", "epochs": 12}), tmp_path / "two", dataset=two_structures())
    card = result.stored.card
    assert card.structures == ["square", "disk"] and card.input_shape == [32, 32, 1]
    assert set(card.structure_ranges) == {"square", "disk"}  # where each lay on its training images
    assert all(low <= high for ranges in card.structure_ranges.values() for low, high in ranges.values())
    test = result.metrics["test"]
    assert set(test["per_structure"]) == {"square", "disk"}
    assert all(test["per_structure"][name]["dice"] > 0.5 for name in ("square", "disk")), test["per_structure"]
    means = np.mean([test["per_structure"][name]["dice"] for name in ("square", "disk")])
    assert abs(test["dice"] - means) < 1e-3  # each image's mean over its structures, averaged


def test_located_findings_train_a_locating_model_scored_as_candidates(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.models.loaded import open_model
    from medlib.scoring.evaluate import evaluate_split
    from medlib.training import TrainConfig, train

    data = spots()
    result = train(TrainConfig(**{**FAST, "task": "locate", "epochs": 15}), tmp_path / "spots", dataset=data)
    assert result.stored.card.task == "locate" and result.stored.card.structures == ["nodule"]
    detection = result.metrics["test"]["detection"]["nodule"]
    assert detection["findings"] == int(data.labels[data.indices("test")].sum())
    assert detection["sensitivity_at_1fp"] >= 0.8 and detection["image_auc"] >= 0.9, detection
    low, high = detection["sensitivity_at_1fp_ci"]
    assert low <= detection["sensitivity_at_1fp"] <= high
    again = evaluate_split(open_model(tmp_path / "spots"), data, "test")
    assert again["detection"]["nodule"]["sensitivity_at_1fp"] == detection["sensitivity_at_1fp"]


def test_a_set_with_findings_detects_by_default_and_classifies_without_them(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.tasks import default_task
    from medlib.training import TrainConfig, resolve, train

    data = dataclasses.replace(spots(n=40), name="spots-small")
    task, why = default_task(data)
    assert task.name == "detect" and "could also train classify, locate" in why
    assert default_task(dataclasses.replace(data, findings=None))[0].name == "classify"
    unlabelled = dataclasses.replace(data, labels=None, class_names=[], masks=TASKS["locate"].training_set(data).masks)
    assert resolve(TrainConfig(**FAST), unlabelled).task.name == "detect"
    result = train(TrainConfig(**{**FAST, "epochs": 2}), tmp_path / "det", dataset=data)
    card = result.stored.card
    assert card.task == "detect" and card.class_names == ["background", "nodule"] and card.finding == "nodule"
    assert card.recipe["task"]["derived"] and card.recipe["task"]["value"] == "detect"


def test_a_classifier_of_located_findings_places_them_by_its_heat_map(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.answers.diagnose import diagnose
    from medlib.models.loaded import open_model
    from medlib.scoring.evaluate import evaluate_split
    from medlib.training import TrainConfig, train

    data = spots()
    result = train(TrainConfig(**{**FAST, "task": "classify", "epochs": 8}), tmp_path / "heat", dataset=data)
    card = result.stored.card
    assert card.located_by == "heat map" and card.finding == "nodule"
    test = result.metrics["test"]
    assert {"froc", "sensitivity_at_1fp", "image_auc"} <= set(test) and test["auc"] > 0.9
    loaded = open_model(tmp_path / "heat")
    assert evaluate_split(loaded, data, "test")["froc"] == test["froc"]
    film = int(np.flatnonzero(data.labels == 1)[0])
    found = diagnose(data.images[film], locator=loaded)
    assert found.candidates and found.candidates[0].score == pytest.approx(found.finding_probability)
    assert found.candidates[0].label == "nodule"


def test_located_findings_train_a_detector_whose_candidates_are_centres_with_radii(tmp_path):
    """The detect task: a centre-point detector on the spots, watched by the validation CPM, its candidates the
    spots' centres with their radii, its card's FROC re-measured alike by ``evaluate``."""
    pytest.importorskip("tensorflow")
    from medlib.models.loaded import open_model
    from medlib.scoring.evaluate import evaluate_split
    from medlib.training import TrainConfig, train

    data = spots()
    result = train(TrainConfig(**{**FAST, "task": "detect", "epochs": 15}), tmp_path / "spots", dataset=data)
    card = result.stored.card
    assert card.task == "detect" and card.architecture == "centernet" and card.finding == "nodule"
    assert "val_cpm" in card.history[-1] and card.recipe["model"]["value"] == "centernet"
    detection = result.metrics["test"]["detection"]["nodule"]
    assert detection["sensitivity_at_1fp"] >= 0.8 and detection["image_auc"] >= 0.9, detection
    assert result.metrics["test"]["cpm"] == detection["cpm"] > 0.5
    assert card.detects  # a validated FROC: its candidates are detections
    loaded = open_model(tmp_path / "spots")
    i = int(data.indices("test")[data.labels[data.indices("test")] == 1][0])
    processed = loaded.pipeline.run(data.images[i])
    best = loaded.task.candidates(loaded, processed)[0]
    truth = data.findings[i][0]
    assert np.hypot(best.centre[0] - truth.centre[0], best.centre[1] - truth.centre[1]) <= 1.5
    assert 1.5 <= best.radius <= 5.0 and 0.0 <= best.score <= 1.0
    again = evaluate_split(loaded, data, "test")
    assert again["detection"]["nodule"]["sensitivity_at_1fp"] == detection["sensitivity_at_1fp"]


def test_a_detectors_targets_follow_each_finding_wherever_augmentation_moves_it():
    from medlib.augment import make_augmenter
    from medlib.tasks.detect import centre_maps

    findings = [Finding("nodule", (12.0, 9.0), 3.0), Finding("nodule", (30.0, 28.0), 5.0)]
    drawn = render_findings(findings, (40, 48), ["nodule"], each=True)
    target = centre_maps(drawn, 1)
    assert [tuple(map(int, np.argwhere(target[..., 0] == 1.0)[k][::-1])) for k in (0, 1)] == [(12, 9), (30, 28)]
    assert target[9, 12, 1] == pytest.approx(3.0, abs=0.3) and target[28, 30, 1] == pytest.approx(5.0, abs=0.3)
    turn = make_augmenter(("affine", {"shift": 0.1, "scale": 0.2, "rotate": 20.0, "p": 1.0}))
    centres = np.array([f.centre for f in findings])
    for variant in turn.variants(np.zeros((40, 48, 1), np.float32), drawn, n=4, seed=3, points=centres):
        moved = centre_maps(variant.mask, 1)
        peaks = sorted(tuple(map(float, p[::-1])) for p in np.argwhere(moved[..., 0] == 1.0))
        assert len(peaks) == 2  # each finding keeps one centre, wherever the draw took it
        for peak, point in zip(peaks, sorted(map(tuple, variant.points)), strict=True):
            assert np.hypot(peak[0] - point[0], peak[1] - point[1]) <= 1.0, (peak, point)
