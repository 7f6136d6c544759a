"""Evaluation statistics: metrics against scikit-learn, interval coverage, thresholds, calibration, comparison."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from medlib.scoring.classification import (
    EvaluationError,
    calibration,
    compare,
    confusion,
    curves,
    metric_table,
    metrics_with_intervals,
    predictions_table,
)
from medlib.scoring.probabilities import auc_per_image
from medlib.scoring.thresholds import threshold_for, youden_threshold


def binormal(n: int, separation: float, rng: np.random.Generator, prevalence: float = 0.4):
    """Scores of a binormal model: negatives N(0, 1), positives N(separation, 1), squashed to 0..1."""
    labels = (rng.random(n) < prevalence).astype(int)
    return labels, 1.0 / (1.0 + np.exp(-rng.normal(separation * labels, 1.0)))


def test_binary_metrics_match_scikit_learn():
    labels, scores = binormal(300, 1.2, np.random.default_rng(1))
    scores = scores.round(2)  # ties, which the AUC counts as half
    m = metric_table(labels, scores, threshold=0.6)
    predicted = (scores >= 0.6).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, predicted).ravel()
    assert m["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-4)
    assert m["accuracy"] == pytest.approx(accuracy_score(labels, predicted), abs=1e-4)
    assert m["sensitivity"] == pytest.approx(recall_score(labels, predicted), abs=1e-4)
    assert m["specificity"] == pytest.approx(tn / (tn + fp), abs=1e-4)
    assert m["ppv"] == pytest.approx(precision_score(labels, predicted), abs=1e-4)
    assert m["npv"] == pytest.approx(tn / (tn + fn), abs=1e-4)
    assert m["f1"] == pytest.approx(f1_score(labels, predicted), abs=1e-4)
    assert m["n"] == 300


def test_multi_class_metrics_are_macro_averages():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 240)
    probabilities = rng.dirichlet([1, 1, 1], 240) + np.eye(3)[labels] * 0.5
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    m = metric_table(labels, probabilities)
    assert m["auc"] == pytest.approx(roc_auc_score(labels, probabilities, multi_class="ovr"), abs=1e-4)
    assert m["sensitivity"] == pytest.approx(recall_score(labels, predicted, average="macro"), abs=1e-4)
    assert m["ppv"] == pytest.approx(precision_score(labels, predicted, average="macro"), abs=1e-4)
    assert m["f1"] == pytest.approx(f1_score(labels, predicted, average="macro"), abs=1e-4)
    assert np.array_equal(confusion(labels, probabilities), confusion_matrix(labels, predicted))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 60), st.floats(0.05, 0.95))
def test_any_metric_lies_in_the_unit_interval_and_accuracy_agrees(seed, n, threshold):
    rng = np.random.default_rng(seed)
    labels, scores = rng.integers(0, 2, n), rng.random(n)
    m = metric_table(labels, scores, threshold)
    assert all(m[k] is None or 0.0 <= m[k] <= 1.0 for k in ("accuracy", "sensitivity", "specificity", "ppv", "npv"))
    assert m["accuracy"] == pytest.approx(accuracy_score(labels, scores >= threshold), abs=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 80), st.sampled_from([2, 3, 4]), st.booleans())
def test_per_image_auc_shares_average_to_the_auc(seed, n, classes, coarse):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.arange(classes), rng.integers(0, classes, n)])  # every class present
    weights = rng.integers(1, 4, (labels.size, classes)) if coarse else rng.random((labels.size, classes))  # ties
    probabilities = weights / weights.sum(axis=1, keepdims=True)
    raw = probabilities[:, 1] if classes == 2 else probabilities
    expected = roc_auc_score(labels, raw) if classes == 2 else roc_auc_score(labels, probabilities, multi_class="ovr")
    assert auc_per_image(labels, raw).mean() == pytest.approx(expected, abs=1e-9)


def test_per_image_auc_shares_compare_two_models_image_by_image():
    labels = np.array([0, 0, 0, 1, 1, 1])
    good = auc_per_image(labels, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))
    swapped = auc_per_image(labels, np.array([0.1, 0.2, 0.8, 0.7, 0.3, 0.9]))  # one normal and one case swap
    assert np.all(good == 1.0) and np.flatnonzero(swapped < 1.0).tolist() == [2, 3, 4]
    assert auc_per_image(np.zeros(4, int), np.random.default_rng(0).random(4)) is None  # one class: no AUC


def test_intervals_cover_the_true_auc_at_about_the_nominal_rate():
    separation = 1.5
    true_auc = norm.cdf(separation / np.sqrt(2))
    rng = np.random.default_rng(3)
    covered = []
    for trial in range(120):
        labels, scores = binormal(200, separation, rng)
        low, high = metrics_with_intervals(labels, scores, resamples=400, seed=trial)["auc_ci"]
        covered.append(low <= true_auc <= high)
    assert 0.88 <= np.mean(covered) <= 0.995


def test_interval_brackets_the_estimate_and_shrinks_with_more_data():
    rng = np.random.default_rng(4)
    small = metrics_with_intervals(*binormal(100, 1.0, rng))
    large = metrics_with_intervals(*binormal(2000, 1.0, rng))
    for name in ("accuracy", "sensitivity", "specificity", "auc"):
        assert small[f"{name}_ci"][0] <= small[name] <= small[f"{name}_ci"][1]
        assert np.diff(large[f"{name}_ci"])[0] < np.diff(small[f"{name}_ci"])[0]


def test_same_seed_same_interval():
    labels, scores = binormal(150, 1.0, np.random.default_rng(5))
    assert metrics_with_intervals(labels, scores, seed=7) == metrics_with_intervals(labels, scores, seed=7)


def test_thresholds_reach_their_targets():
    labels, scores = binormal(500, 1.5, np.random.default_rng(6))
    at = threshold_for(labels, scores, sensitivity=0.9)
    assert metric_table(labels, scores, at)["sensitivity"] >= 0.9
    at = threshold_for(labels, scores, specificity=0.95)
    assert metric_table(labels, scores, at)["specificity"] >= 0.95
    youden = youden_threshold(labels, scores)
    j = metric_table(labels, scores, youden)
    for other in (0.2, 0.5, 0.8):
        m = metric_table(labels, scores, other)
        assert j["sensitivity"] + j["specificity"] >= m["sensitivity"] + m["specificity"] - 1e-9
    with pytest.raises(EvaluationError):
        threshold_for(labels, scores)


def test_curves_and_calibration():
    rng = np.random.default_rng(7)
    probability = rng.random(4000)
    labels = (rng.random(4000) < probability).astype(int)  # calibrated by construction
    c = curves(labels, probability)
    assert c.fpr[0] == 0 and c.tpr[-1] == 1 and 0.5 < c.average_precision < 1
    calibrated = calibration(labels, probability)
    assert calibrated["ece"] < 0.05
    assert calibrated["brier"] == pytest.approx(brier_score_loss(labels, probability), abs=1e-4)
    overconfident = calibration(labels, (probability > 0.5).astype(float) * 0.98 + 0.01)
    assert overconfident["ece"] > 0.15
    with pytest.raises(EvaluationError, match="both positive and negative"):
        curves(np.ones(10, int), rng.random(10))


def test_paired_comparison_finds_a_planted_difference_and_not_a_null_one():
    rng = np.random.default_rng(8)
    labels = (rng.random(400) < 0.4).astype(int)
    weak = 1 / (1 + np.exp(-rng.normal(0.8 * labels, 1.0)))
    strong = 1 / (1 + np.exp(-rng.normal(2.0 * labels, 1.0)))
    found = compare(labels, weak, strong, seed=1)
    assert found["auc_difference"] > 0.1 and found["auc_p_value"] < 0.01
    assert found["auc_difference_ci"][0] > 0
    false_alarms = 0
    for trial in range(20):  # two equally good models: a 5% test should rarely call a difference
        a = 1 / (1 + np.exp(-rng.normal(labels, 1.0)))
        b = 1 / (1 + np.exp(-rng.normal(labels, 1.0)))
        null = compare(labels, a, b, resamples=500, seed=trial)
        false_alarms += null["auc_p_value"] < 0.05
        assert null["auc_difference_ci"][0] <= null["auc_difference"] <= null["auc_difference_ci"][1]
    assert false_alarms <= 3


def test_bad_input_is_a_clear_error():
    with pytest.raises(EvaluationError, match="3 labels but 2 predictions"):
        metric_table(np.array([0, 1, 1]), np.array([0.2, 0.8]))
    with pytest.raises(EvaluationError, match="no images"):
        metric_table(np.array([], int), np.zeros((0, 2)))
    with pytest.raises(EvaluationError, match="labels must be 0..1"):
        metric_table(np.array([0, 2]), np.array([0.2, 0.8]))


def test_predictions_table():
    table = predictions_table(["a", "b"], np.array([0, 1]), np.array([0.3, 0.4]), ["normal", "pneumonia"], 0.35)
    assert list(table.columns) == ["id", "true", "p_normal", "p_pneumonia", "predicted", "correct"]
    assert table["predicted"].tolist() == ["normal", "pneumonia"]
    assert table["correct"].all()
    assert table["p_pneumonia"].tolist() == [0.3, 0.4]
