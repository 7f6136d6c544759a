"""Training on tiny synthetic sets: it learns, is reproducible, stops on request, and writes a complete store entry."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

from medlib.errors import DatasetError
from medlib.scoring.per_image import not_measurably_worse
from medlib.spec import SpecError
from medlib.store.folders import list_models, load_model
from medlib.training import TrainConfig, cosine_rate, mix_batches, resolve, train
from medlib.training.worker import TRAINING_NICENESS, TrainingProcess
from tests.helpers import FAST, blobs

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    store = tmp_path_factory.mktemp("models")
    events: list[dict] = []
    result = train(TrainConfig(seed=3, **FAST), store / "blobs-a", dataset=blobs(), progress=events.append)
    return store, result, events


def test_training_learns(trained):
    _, result, _ = trained
    losses = [row["loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert result.metrics["val"]["accuracy"] > 0.8 and result.metrics["test"]["auc"] > 0.9


def test_progress_is_streamed_per_batch_and_epoch(trained):
    _, result, events = trained
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    batch = next(e for e in events if e["event"] == "batch")
    assert {"loss", "images_per_s", "eta_s", "batch", "batches", "epoch"} <= set(batch)
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == 6 and {"val_auc", "val_loss", "lr", "loss"} <= set(epochs[0])


def test_store_entry_is_complete(trained):
    store, result, _ = trained
    (entry,) = list_models(store)
    card = entry.card
    assert entry.name == "blobs-a" and entry.model_file.is_file()
    assert card.dataset["fingerprint"] == blobs().fingerprint and card.class_names == ["empty", "blob"]
    assert {"val", "test"} <= set(card.metrics) and len(card.history) == 6
    assert card.preprocess["steps"] and card.versions["keras"] and card.file["sha256"]
    model = load_model(entry)
    assert tuple(model.input_shape[1:]) == (16, 16, 1)
    assert not [p for p in store.iterdir() if p.name.startswith(".")], "temporary files were left behind"


def test_the_card_and_the_evaluation_of_the_same_split_agree(trained):
    from medlib.models.loaded import open_model
    from medlib.scoring.evaluate import evaluate_split

    store, result, _ = trained
    scored = evaluate_split(open_model(store / "blobs-a"), blobs(), "test")
    card = result.stored.card.metrics["test"]
    assert {k: v for k, v in scored.items() if k in card} == card and card["auc"] is not None


def test_a_binary_classifier_is_calibrated_given_a_threshold_and_a_gate_on_validation(trained):
    store, result, _ = trained
    card = list_models(store)[0].card
    assert card.calibration["temperature"] > 0 and card.calibration["fitted_on"].startswith("val (")
    assert 0.0 < card.threshold["value"] < 1.0 and card.threshold["chosen_on"].startswith("val (")
    assert result.metrics["test"]["threshold"] == card.threshold["value"]
    assert {"ece", "brier", "auc_ci"} <= set(result.metrics["test"])
    assert card.gate["features"]["threshold"] > 0 and card.gate["fitted_on"][0].startswith("blobs: ")


def test_the_gate_passes_a_training_like_image_and_flags_noise(trained):
    from medlib.answers.diagnose import diagnose
    from medlib.models.loaded import open_model

    store, _, _ = trained
    loaded = open_model(store / "blobs-a")
    data = blobs(seed=9)
    assert diagnose(data.images[1], loaded).gate.in_distribution
    noise = np.random.default_rng(0).uniform(0, 255, (16, 16, 1)).astype(np.float32)
    flagged = diagnose(noise, loaded)
    assert not flagged.gate.in_distribution and flagged.predicted is None and flagged.heat is None


def test_the_kept_epoch_is_restored_and_not_measurably_worse_than_the_best(trained):
    store, result, _ = trained
    card = list_models(store)[0].card.training
    best, kept = card["best_epoch"], card["kept_epoch"]
    assert 1 <= best <= kept <= len(result.history)
    # the stored model is the kept epoch's: its validation AUC is the one that epoch logged
    assert result.metrics["val"]["auc"] == pytest.approx(result.history[kept - 1]["val_auc"], abs=1e-6)


@pytest.mark.parametrize(
    ("later", "keeps"),
    [([0.90, 0.80, 0.70, 0.85], True), ([0.86, 0.84, 0.66, 0.89], True), ([0.88, 0.78, 0.68, 0.83], False),
     ([0.50, 0.40, 0.30, 0.45], False)],
)
def test_a_later_epoch_replaces_the_best_unless_measurably_worse(later, keeps):
    # noisy per-image changes that cancel out tie; the same small drop on every image is measurable
    best = np.array([0.90, 0.80, 0.70, 0.85])
    assert not_measurably_worse(np.array(later), best) is keeps


def test_mixup_blends_images_targets_and_class_weights_alike():
    import tensorflow as tf

    labels = np.array([0, 1] * 16, np.float32)
    images = np.broadcast_to(labels[:, None, None, None], (32, 4, 4, 1)).astype(np.float32)  # each image = its label
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    mixed = list(mix_batches(batches, 2, 0.4, {0: 2.0, 1: 1.0}, seed=5).as_numpy_iterator())
    blended, targets, weights = (np.concatenate([batch[k] for batch in mixed]) for k in range(3))
    assert np.allclose(blended[:, 0, 0, 0], targets)  # the image and its target are blended by the same share
    assert np.allclose(weights, 2.0 - targets)  # so is the class weight (2 for class 0, 1 for class 1)
    assert 0 < np.mean((targets > 0) & (targets < 1)) and np.all((targets <= 0.5) == (labels == 0))
    active = tf.Variable(False)  # the end of a run: the samples pass unmixed, with their class weights
    plain = list(mix_batches(batches, 2, 0.4, {0: 2.0, 1: 1.0}, seed=5, active=active).as_numpy_iterator())
    blended, targets, weights = (np.concatenate([batch[k] for batch in plain]) for k in range(3))
    assert np.array_equal(blended, images) and np.array_equal(targets, labels)
    assert np.array_equal(weights, np.where(labels == 0, 2.0, 1.0))


def test_a_sample_is_augmented_alike_whatever_the_batch_size():
    from medlib.augment import default_augmenter
    from medlib.training.inputs import Augment, make_inputs

    data = blobs(n=40)
    recipe = resolve(TrainConfig(epochs=1), data)
    augment = Augment(default_augmenter("chest"), recipe.input_shape, seed=4)
    epochs = {}
    for batch in (4, 7):  # 7 leaves a short last batch
        batches = list(make_inputs(data, recipe.train_index, recipe, 4, augment, shuffle=True,
                                   batch=batch).as_numpy_iterator())
        epochs[batch] = [np.concatenate([b[k] for b in batches]) for k in range(2)]
    assert np.array_equal(epochs[4][0], epochs[7][0]) and np.array_equal(epochs[4][1], epochs[7][1])
    plain = list(make_inputs(data, recipe.train_index, recipe, 4, shuffle=True).as_numpy_iterator())
    assert len(epochs[4][0]) == recipe.train_index.size
    assert not np.allclose(np.concatenate([b[0] for b in plain]), epochs[4][0])  # augmented, in the same order
    assert np.array_equal(np.concatenate([b[1] for b in plain]), epochs[4][1])


def test_mixup_training_learns_and_is_reproducible(tmp_path):
    config = TrainConfig(seed=2, mixup=0.4, **FAST)
    first = train(config, tmp_path / "mix-a", dataset=blobs())
    again = train(config, tmp_path / "mix-b", dataset=blobs())
    assert first.metrics["val"]["auc"] > 0.9
    assert np.allclose([r["loss"] for r in first.history], [r["loss"] for r in again.history], rtol=1e-4)


def test_same_seed_same_history(trained, tmp_path):
    _, first, _ = trained
    again = train(TrainConfig(seed=3, **FAST), tmp_path / "blobs-b", dataset=blobs())
    assert np.allclose([r["loss"] for r in first.history], [r["loss"] for r in again.history], rtol=1e-4)


def test_stop_request_ends_within_a_batch_and_keeps_the_model(tmp_path):
    stop = threading.Event()
    batches = []

    def progress(event):
        if event["event"] == "batch":
            batches.append(event)
            if len(batches) == 3:
                stop.set()

    result = train(TrainConfig(**{**FAST, "epochs": 50}), tmp_path / "stopped", dataset=blobs(), progress=progress,
                   stop=stop)
    assert result.ended == "stopped"
    assert len(batches) == 3
    assert list_models(tmp_path)[0].card.training["ended"] == "stopped"


def test_killed_worker_fails_with_its_last_metrics_and_leaves_no_model(tmp_path):
    events: list[dict] = []
    first_epoch, ended = threading.Event(), threading.Event()

    def on_event(event):
        events.append(event)
        if event["event"] == "epoch":
            first_epoch.set()
        if event["event"] == "exit":
            ended.set()

    run = TrainingProcess(TrainConfig(**{**FAST, "epochs": 200}), blobs(), tmp_path / "killed", on_event)
    run.start()
    assert first_epoch.wait(timeout=180), events[-1:]
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, run.pid) == min(19, own + TRAINING_NICENESS)  # pages come first
    run.kill()
    assert ended.wait(timeout=30)
    assert events[-1]["state"] == "failed" and "ended by SIGKILL" in events[-1]["error"]
    assert any(e["event"] == "epoch" and "val_loss" in e for e in events)  # the last metrics stay with the job
    assert list_models(tmp_path) == []
    assert not list(tmp_path.glob("killed*"))


def test_worker_stop_saves_the_model(tmp_path):
    events: list[dict] = []
    ended = threading.Event()

    def on_event(event):
        events.append(event)
        if event["event"] == "batch":
            run.stop()
        if event["event"] == "exit":
            ended.set()

    run = TrainingProcess(TrainConfig(**{**FAST, "epochs": 200}), blobs(), tmp_path / "stopped", on_event)
    run.start()
    assert ended.wait(timeout=180), events[-1:]
    assert events[-1] == {"event": "exit", "state": "stopped"}
    assert [m.name for m in list_models(tmp_path)] == ["stopped"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no checkpoint or partial file left


def test_config_checks_and_json_round_trip():
    config = TrainConfig(epochs=3, model="seed-cnn")
    assert TrainConfig.from_json(json.dumps(config.to_dict())) == config
    with pytest.raises(SpecError, match="epochs=-1 is out of range"):
        TrainConfig(epochs=-1)
    with pytest.raises(SpecError, match="unknown setting"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(SpecError, match="'unet' answers with maps, which classification cannot use"):
        TrainConfig(task="classify", model="unet")
    with pytest.raises(SpecError, match="'seed-cnn' answers with one vector per image"):
        TrainConfig(task="locate", model="seed-cnn")


def test_recipe_follows_the_data():
    dataset = blobs(200, size=24)
    recipe = resolve(TrainConfig(), dataset)
    assert recipe.input_shape == (24, 24, 1) and recipe.num_classes == 2
    assert recipe.class_weight == pytest.approx({0: 1.0, 1: 1.0}, rel=0.05)
    imbalanced = blobs(200, size=24)
    imbalanced.labels[:150] = 0
    weights = resolve(TrainConfig(), imbalanced).class_weight
    assert weights[1] > 2 * weights[0]
    with pytest.raises(DatasetError, match="has no label maps .* use classify"):
        resolve(TrainConfig(task="segment"), dataset)


def test_multi_class_with_label_smoothing_and_the_seed_cnn(tmp_path):
    from medlib.datasets.phantom import make_phantom

    dataset = make_phantom(36, size=32)
    result = train(TrainConfig(epochs=1, label_smoothing=0.1, augment={"steps": []}), tmp_path / "smooth",
                   dataset=dataset)
    assert result.metrics["test"]["n"] == dataset.indices("test").size
    seed = train(TrainConfig(epochs=1, model="seed-cnn"), tmp_path / "seed", dataset=dataset)
    assert seed.stored.card.architecture == "seed-cnn" and seed.stored.card.class_names == dataset.class_names
    assert seed.metrics["val"]["n"] == dataset.indices("val").size and len(seed.history) == 1


def test_a_run_cut_short_by_its_time_budget_ends_at_the_low_learning_rate(tmp_path):
    config = TrainConfig(**{**FAST, "epochs": 1000, "max_minutes": 0.2})
    result = train(config, tmp_path / "budget", dataset=blobs())
    assert result.ended == "time budget" and len(result.history) < 1000
    last = result.history[-1]["lr"]
    by_epochs = cosine_rate(config.learning_rate, len(result.history) / 1000)  # what 1,000 planned epochs would give
    assert last < 0.1 * config.learning_rate < by_epochs  # it came down by the clock, not by the planned epochs


def test_the_cosine_schedule_of_a_full_run_follows_its_steps(trained):
    rates = [row["lr"] for row in trained[1].history]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.05 * FAST["learning_rate"]
