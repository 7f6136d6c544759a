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
from medlib.targets import render_findings
from medlib.tasks import TASKS, check_task, task_for, tasks_for
from tests.helpers import FAST, blobs, spots, squares, two_structures


def test_each_task_says_what_it_needs_and_which_tasks_fit_instead():
    assert [t.name for t in tasks_for(blobs())] == ["classify"]
    assert [t.name for t in tasks_for(squares())] == ["classify", "segment"]
    assert [t.name for t in tasks_for(spots())] == ["classify", "locate"]
    with pytest.raises(DatasetError, match="has no label maps .* use classify"):
        check_task(TASKS["segment"], blobs())
    with pytest.raises(DatasetError, match="located findings"):
        check_task(TASKS["locate"], squares())
    with pytest.raises(SpecError, match="unknown task 'detect'"):
        task_for("detect")


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
        ModelCard.from_dict({**data, "task": "detect"})


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


def test_a_set_with_findings_classifies_by_default_and_locates_where_it_has_no_labels(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.tasks import default_task
    from medlib.training import TrainConfig, resolve, train

    data = dataclasses.replace(spots(n=40), name="spots-small")
    task, why = default_task(data)
    assert task.name == "classify" and "could also train locate" in why
    unlabelled = dataclasses.replace(data, labels=None, class_names=[], masks=TASKS["locate"].training_set(data).masks)
    assert default_task(unlabelled)[0].name == "locate"
    assert resolve(TrainConfig(**FAST), unlabelled).task.name == "locate"
    result = train(TrainConfig(**{**FAST, "epochs": 2}), tmp_path / "cls", dataset=data)
    card = result.stored.card
    assert card.task == "classify" and card.class_names == ["normal", "nodule"] and card.positive_class == "nodule"
    assert card.located_by == "heat map"
    assert card.recipe["task"]["derived"] and card.recipe["task"]["value"] == "classify"


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
