"""Calibration on validation logits, its folding into the model, and the decision threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from medlib.scoring.calibration import Calibration, expected_calibration_error, fit_calibration
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
