"""An ensemble of the models of a cross-validated run, as one Keras model of built-in layers (loadable in safe mode).

- Map models (U-Nets): the members' maps averaged.
- Classifiers: the members' feature vectors side by side, then one dense layer whose kernel stacks the members'
  kernels (each divided by their number) and whose bias is their mean: its logits are the mean of the members'
  logits. The ensemble still ends in a dense layer, so the gate's feature vector, the calibration folded into
  that layer and the class logits behave as for one model; a heat map is the mean of the members' own
  (:func:`member_classifiers`).

Each member is a nested model named ``fold<k>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medlib.models.architectures import dense_head


def build_ensemble(members: Sequence[Any], name: str = "ensemble") -> Any:
    """One model answering the mean of ``members`` (all of one architecture and input)."""
    import keras

    inputs = keras.Input(members[0].input_shape[1:], name="image")
    head = dense_head(members[0])
    if head is None:  # map models: average the maps
        for k, member in enumerate(members):
            member.name = f"fold{k}"
        outputs = keras.layers.Average(name="mean_map")([member(inputs) for member in members])
        return keras.Model(inputs, outputs, name=name)
    features = [keras.Model(m.inputs, dense_head(m).input, name=f"fold{k}")(inputs) for k, m in enumerate(members)]
    kernels = [np.asarray(dense_head(m).get_weights()[0]) for m in members]
    biases = [np.asarray(dense_head(m).get_weights()[1]) for m in members]
    dense = keras.layers.Dense(kernels[0].shape[1], activation=head.activation, name=head.name)
    outputs = dense(keras.layers.Concatenate(name="features")(features))
    dense.set_weights([np.concatenate(kernels) / len(members), np.mean(biases, axis=0)])
    return keras.Model(inputs, outputs, name=name)


def is_ensemble(model: Any) -> bool:
    return any(layer.name == "fold0" for layer in model.layers)


def member_classifiers(model: Any) -> list[Any]:
    """The members of an ensemble classifier as classifiers of their own (sharing the ensemble's weights; each
    with its slice of the ensemble's dense layer, times the number of members): what its heat maps average."""
    import keras

    members = [layer for layer in model.layers if layer.name.startswith("fold")]
    head = dense_head(model)
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    sizes = [int(m.output_shape[-1]) for m in members]
    starts = np.cumsum([0, *sizes])
    out = []
    for k, member in enumerate(members):
        dense = keras.layers.Dense(kernel.shape[1], activation=head.activation, name=head.name)
        classifier = keras.Model(member.inputs, dense(member.outputs[0]), name=f"member{k}")  # its own layers
        dense.set_weights([kernel[starts[k] : starts[k + 1]] * len(members), bias])
        out.append(classifier)
    return out
