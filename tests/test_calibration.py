"""Calibration on validation logits, its folding into the model, and the decision threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from medlib.scoring.calibration import (
    Calibration,
    calibrate_classifier,
    calibration_line,
    expected_calibration_error,
    fit_calibration,
)
from medlib.scoring.thresholds import youden_threshold


def _overconfident(n: int = 4000, temperature: float = 3.0, bias: float = 1.0, seed: int = 0):
    """Logits whose true probability of class 1 is sigmoid(z / temperature + bias)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 6.0, n)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-(logits / temperature + bias)))).astype(int)
    return labels, logits[:, None]


def test_fitting_recovers_the_temperature_and_bias_and_lowers_the_calibration_error():
    labels, logits = _overconfident()
    calibration = fit_calibration(labels, logits)
    assert calibration.temperature == pytest.approx(3.0, rel=0.15)
    assert calibration.bias[0] == 0.0 and calibration.bias[1] == pytest.approx(1.0, abs=0.2)
    assert calibration.ece_after < 0.03 < calibration.ece_before


def test_calibration_is_kept_where_it_lowers_the_calibration_error():
    labels, logits = _overconfident(1000)
    calibration, chosen = calibrate_classifier(labels, logits, "val")
    assert chosen["calibration"]["applied"] and calibration.temperature > 2
    assert "before" in calibration_line(chosen["calibration"])


def test_calibration_that_raises_the_error_is_left_out_with_the_reason():
    rng = np.random.default_rng(3)  # forty honest probabilities: fitting on so few raises the binned error
    probability = rng.uniform(0.05, 0.95, 40)
    labels = (rng.uniform(size=40) < probability).astype(int)
    logits = np.log(probability / (1 - probability))[:, None]
    assert fit_calibration(labels, logits).ece_after > fit_calibration(labels, logits).ece_before
    calibration, chosen = calibrate_classifier(labels, logits, "out-of-fold validation")
    assert calibration.temperature == 1.0 and set(calibration.bias) == {0.0}
    record = chosen["calibration"]
    assert record["applied"] is False and record["ece_after"] == record["ece_before"]
    assert calibration_line(record).startswith("No calibration: left out") and "raised" in record["reason"]
    # the threshold is chosen on the model's own probabilities
    assert 0 < chosen["threshold"]["value"] < 1


def test_binary_calibration_keeps_the_ranking():
    labels, logits = _overconfident(500, seed=1)
    scores = fit_calibration(labels, logits).probabilities(logits)[:, 1]
    assert np.array_equal(np.argsort(scores, kind="stable"), np.argsort(logits[:, 0], kind="stable"))


def test_multi_class_temperature_and_biases():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 4, (3000, 3))
    truth = np.exp(logits / 2.0 + np.array([0.0, 0.5, -0.5]))
    labels = np.array([rng.choice(3, p=row / row.sum()) for row in truth])
    calibration = fit_calibration(labels, logits)
    assert calibration.temperature == pytest.approx(2.0, rel=0.15)
    assert expected_calibration_error(labels, calibration.probabilities(logits)) < 0.03


def test_identity_calibration_gives_the_softmax():
    logits = np.array([[1.0, 2.0, 0.5]])
    expected = np.exp(logits) / np.exp(logits).sum()
    assert np.allclose(Calibration(1.0, (0.0, 0.0, 0.0)).probabilities(logits), expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.001, 0.999), st.booleans()), min_size=4, max_size=60))
def test_the_threshold_reaches_the_best_youden_index(pairs):
    scores = np.array([p for p, _ in pairs])
    labels = np.array([int(y) for _, y in pairs])
    if labels.min() == labels.max():
        return
    distinct = np.unique(scores)
    assume(np.all(np.diff(distinct) > 1e-12 * distinct[1:]))  # neighbouring floats: no cut lies between them
    threshold = youden_threshold(labels, scores)

    def youden(t: float) -> float:
        return float(np.mean(scores[labels == 1] >= t) + np.mean(scores[labels == 0] < t) - 1.0)

    best = max(youden(t) for t in np.concatenate([scores, [0.0, 1.01]]))
    assert youden(threshold) == pytest.approx(best)
    assert not np.any(np.isclose(scores, threshold, rtol=0, atol=1e-9))  # between two scores, not on one


def test_folding_into_the_model_gives_the_calibrated_probabilities():
    pytest.importorskip("tensorflow")
    import keras

    from medlib.models.architectures import build_model, features_model
    from medlib.scoring.calibration import fold_into

    model = build_model("resnet-small", (16, 16, 1), 2)
    images = np.random.default_rng(3).random((8, 16, 16, 1)).astype(np.float32)
    kernel, bias = (np.asarray(w) for w in model.layers[-1].get_weights())
    logits = np.asarray(features_model(model).predict_on_batch(images)) @ kernel + bias
    calibration = Calibration(2.5, (0.0, -0.7))
    folded = fold_into(model, calibration)
    assert np.allclose(np.asarray(folded.predict_on_batch(images))[:, 0], calibration.probabilities(logits)[:, 1],
                       atol=1e-5)
    assert np.allclose(model.layers[-1].get_weights()[0], kernel)  # the original model is unchanged
    assert isinstance(folded, keras.Model)
