"""A classifier's stated probabilities made honest on validation data, and its decision threshold.

Calibration is bias-corrected temperature scaling (Guo et al. 2017; Alexandari et al. 2020): the class
logits are divided by one temperature and shifted by one bias per class, both fitted by the log-loss of
the validation images. For two classes that is Platt scaling of the positive logit. It never changes a
binary model's ranking (its AUC), and the bias undoes the shift of the prior that balanced class weights
cause, so that a stated 0.9 means about 9 in 10 at the training data's class balance. Both are folded into
the model's last dense layer (:func:`fold_into`), so the stored model outputs calibrated probabilities.

>>> labels = np.array([0, 0, 1, 1, 1, 1]); logits = np.array([[-3.0], [-1.0], [0.5], [2.0], [3.0], [-0.5]])
>>> calibration = fit_calibration(labels, logits)
>>> calibration.temperature > 0, len(calibration.bias)
(True, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from medlib.scoring.classification import ECE_BINS, calibration
from medlib.scoring.thresholds import STABLE_RULE, stable_threshold


def class_logits(logits: np.ndarray) -> np.ndarray:
    """(N, K) logits: a single sigmoid logit ``z`` becomes ``[0, z]`` (the same probabilities under a softmax)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1 or logits.shape[1] == 1:
        positive = logits.reshape(-1)
        return np.stack([np.zeros_like(positive), positive], axis=1)
    return logits


@dataclass(frozen=True)
class Calibration:
    """Calibrated logits are ``logits / temperature + bias`` (the first class's bias is 0)."""

    temperature: float
    bias: tuple[float, ...]
    ece_before: float | None = None
    ece_after: float | None = None

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """(N, K) calibrated probabilities of ``logits`` (N×K, or N×1 for a sigmoid)."""
        return np.exp(log_softmax(class_logits(logits) / self.temperature + np.asarray(self.bias), axis=1))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(float(data["temperature"]), tuple(float(b) for b in data["bias"]), data.get("ece_before"),
                   data.get("ece_after"))

    def to_dict(self) -> dict[str, Any]:
        return {"method": "temperature and class bias (Platt scaling for two classes), fitted on validation",
                "temperature": round(self.temperature, 6), "bias": [round(b, 6) for b in self.bias],
                "ece_before": self.ece_before, "ece_after": self.ece_after}


def fit_calibration(labels: np.ndarray, logits: np.ndarray) -> Calibration:
    """The temperature and class biases that minimise the log-loss of ``logits`` (N×K or N×1) for ``labels``."""
    labels = np.asarray(labels).reshape(-1).astype(int)
    z = class_logits(logits)
    k = z.shape[1]

    def loss(params: np.ndarray) -> float:
        scaled = z * np.exp(-params[0]) + np.concatenate([[0.0], params[1:]])
        return float(-log_softmax(scaled, axis=1)[np.arange(labels.size), labels].mean())

    found = minimize(loss, np.zeros(k), method="L-BFGS-B", bounds=[(-3.0, 5.0)] + [(-20.0, 20.0)] * (k - 1))
    temperature, bias = float(np.exp(found.x[0])), (0.0, *(float(b) for b in found.x[1:]))
    before = Calibration(1.0, (0.0,) * k)
    fitted = Calibration(temperature, bias)
    return Calibration(temperature, bias, expected_calibration_error(labels, before.probabilities(z)),
                       expected_calibration_error(labels, fitted.probabilities(z)))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE over ``bins`` equal-width bins: for two classes of the positive class's probability, else of the top
    class's; the weighted mean gap between stated probability and observed rate.

    >>> expected_calibration_error(np.array([0, 1]), np.array([[0.9, 0.1], [0.1, 0.9]]))
    0.1
    """
    return calibration(labels, probabilities, bins=bins)["ece"]


def fold_into(model: Any, calibration: Calibration) -> Any:
    """A copy of ``model`` whose last dense layer outputs the calibrated probabilities (the model is not changed).

    The layer computes ``x @ W + c``; ``x @ (W / T) + (c / T + b)`` are the calibrated logits, whether a
    sigmoid (one column: ``b`` is the second class's bias) or a softmax follows.
    """
    import keras

    from medlib.models.architectures import dense_head

    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    head = dense_head(copy)
    if head is None:
        raise ValueError(f"{model.name} does not end in a dense layer: its logits cannot be calibrated")
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    shift = np.asarray(calibration.bias[1:] if kernel.shape[1] == 1 else calibration.bias, np.float32)
    head.set_weights([kernel / calibration.temperature, bias / calibration.temperature + shift])
    return copy


def calibrate_classifier(labels: np.ndarray, logits: np.ndarray, where: str) -> tuple[Calibration, dict[str, Any]]:
    """The calibration (:mod:`medlib.scoring.calibration`) of a classifier's validation ``logits``, and what the card
    records of it: the calibration, kept only where it lowers the calibration error on those images (else the
    identity, with the reason), and, for two classes, the decision threshold chosen on the same images (``where``)."""
    fitted = fit_calibration(labels, logits)
    if fitted.ece_after is not None and fitted.ece_before is not None and fitted.ece_after >= fitted.ece_before:
        calibration = Calibration(1.0, (0.0,) * len(fitted.bias), fitted.ece_before, fitted.ece_before)
        record = calibration.to_dict() | {
            "method": "none", "applied": False, "fitted_on": where,
            "reason": f"left out: fitted on {where}, it raised the expected calibration error from "
                      f"{fitted.ece_before:.3f} to {fitted.ece_after:.3f}, so the model's own probabilities are kept"}
    else:
        calibration, record = fitted, fitted.to_dict() | {"applied": True, "fitted_on": where}
    chosen: dict[str, Any] = {"calibration": record}
    if logits.shape[1] == 1:
        value = stable_threshold(labels, calibration.probabilities(logits)[:, 1])
        chosen["threshold"] = {"value": value, "chosen_on": where, "rule": STABLE_RULE}
    return calibration, chosen


def calibration_line(record: dict[str, Any]) -> str:
    """What a card's calibration record says, in one sentence: applied with its effect, or left out and why."""
    if record.get("applied") is False:
        return f"No calibration: {record['reason']}."
    return (f"Probabilities calibrated on {record.get('fitted_on', 'validation')} (temperature "
            f"{record['temperature']:.2f}): expected calibration error {record['ece_before']:.3f} before, "
            f"{record['ece_after']:.3f} after.")
