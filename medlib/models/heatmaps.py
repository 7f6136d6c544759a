"""Where a classifier looks: Grad-CAM, Grad-CAM++ and sharpened Grad-CAM heat maps, overlays, and their
localization scores.

Heat maps come from the gradient of a class logit with respect to the last
feature map of at least 8×8 cells (found by :func:`last_spatial_layer`), are
upsampled to the model's input resolution and scaled to 0..1. That map is
coarse (one cell is 16 pixels of a 128-pixel film), so its maximum rarely lies
on a small lesion; ``gradcam-sharp`` multiplies it by the smoothed
|gradient × input| at the input's own resolution, in the spirit of Guided
Grad-CAM (Selvaraju et al. 2017): the class-specific region from Grad-CAM, the
pixels inside it that move the logit from the input gradient. Where lesion
masks exist, the pointing game (does the maximum fall inside the lesion?) and
the IoU of the thresholded heat map with the mask measure the localization.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from medlib.models.architectures import ModelError, dense_head
from medlib.models.ensemble import is_ensemble, member_classifiers

METHODS = ("gradcam-sharp", "gradcam", "gradcam++")
"""Explanation methods; the first is the default."""
METHOD_LABELS = {"gradcam-sharp": "Grad-CAM, sharpened", "gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++"}
"""Names for people."""
MIN_SIDE = 8
"""The coarsest feature map explained by default (cells per side)."""


def last_spatial_layer(model: Any, min_side: int = MIN_SIDE) -> str:
    """The name of the last feature-map layer (batch × height × width × channels) at least ``min_side`` cells wide.

    Maps coarser than that (4×4 at the end of a deep network) place the maximum
    a whole cell away from the evidence: on a planted square, the pointing game
    falls from 1.0 at 8×8 to 0.25 at 4×4. Without such a layer, the finest last map is used.
    """
    spatial = []
    for layer in model.layers:
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is not None and len(shape) == 4 and min(shape[1], shape[2]) > 1:
            spatial.append((layer.name, min(shape[1], shape[2])))
    if not spatial:
        raise ModelError(f"{model.name} has no convolutional feature map to explain")
    fine = [name for name, side in spatial if side >= min_side]
    return fine[-1] if fine else spatial[-1][0]


def _class_scores(logits, class_index):
    """The score explained per image (``class_index``, a tensor): the class logit (before softmax or sigmoid), as
    Grad-CAM prescribes. A sigmoid output has one logit, for class 1; class 0's score is its negative.
    """
    import tensorflow as tf

    if logits.shape[-1] == 1:
        return tf.where(class_index == 1, logits[:, 0], -logits[:, 0])
    return tf.gather(logits, class_index, axis=1, batch_dims=1)


def _gradient_pass(model: Any, layer: str, sharp: bool) -> Any:
    """A compiled pass over ``model`` (a ``tf.function``, traced once per input shape): for images and a class
    per image (-1: the predicted one), the feature map of ``layer`` and the gradients of the classes' scores with
    respect to it (and to the images where ``sharp``).

    Kept on the model itself, so it lives as long as the model: run eagerly, the same pass took 120 ms for one
    128-pixel film, compiled 11 ms, the rest being Python's own work layer by layer, which holds the interpreter
    that every visitor's request shares.
    """
    import keras
    import tensorflow as tf

    passes = vars(model).setdefault("_medlib_gradient_passes", {})  # past Keras' attribute tracking: not saved
    if (layer, sharp) not in passes:
        head = dense_head(model)
        ends = [head.input] if head is not None else [model.outputs[0]]
        probe = keras.Model(model.inputs, [model.get_layer(layer).output, *ends])

        @tf.function(reduce_retracing=True)
        def gradient_pass(images, class_index):
            with tf.GradientTape() as tape:
                tape.watch(images)
                features, end = probe(images, training=False)
                logits = tf.matmul(end, head.kernel) + head.bias if head is not None else end
                predicted = (tf.cast(logits[:, 0] >= 0, tf.int64) if logits.shape[-1] == 1
                             else tf.argmax(logits, axis=1))
                chosen = tf.where(class_index >= 0, class_index, predicted)
                scores = _class_scores(logits, chosen)
            return features, tape.gradient(scores, [features, images] if sharp else [features])

        passes[(layer, sharp)] = gradient_pass
    return passes[(layer, sharp)]


def _scaled(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its maximum (an all-zero map stays zero)."""
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.where(peaks > 0, maps / np.where(peaks > 0, peaks, 1.0), 0.0).astype(np.float32)


def _pixel_detail(grads: np.ndarray, images: np.ndarray) -> np.ndarray:
    """|gradient × input| summed over channels, smoothed over about a 64th of the image side, scaled to 0..1."""
    detail = np.abs((grads * images).sum(axis=-1)).astype(np.float32)
    sigma = max(1.0, min(images.shape[1:3]) / 64)
    return _scaled(np.stack([cv2.GaussianBlur(d, (0, 0), sigma) for d in detail]))


def heatmaps(model: Any, images: np.ndarray, class_index: np.ndarray | int | None = None,
             method: str = METHODS[0], layer: str | None = None) -> np.ndarray:
    """Heat maps (N×H×W, 0..1, at the input resolution) for ``images`` (already preprocessed).

    ``class_index``: the class to explain per image (default: the predicted one). An ensemble's heat map is the
    mean of its members' for the class the ensemble predicts (:mod:`medlib.models.ensemble`).
    """
    import tensorflow as tf

    if method not in METHODS:
        raise ModelError(f"unknown explanation method {method!r}; choose one of {', '.join(METHODS)}")
    images = np.asarray(images, dtype=np.float32)
    if is_ensemble(model) and dense_head(model) is not None:
        members = vars(model).get("_medlib_members") or vars(model).setdefault("_medlib_members",
                                                                               member_classifiers(model))
        if class_index is None:
            outputs = np.asarray(model.predict_on_batch(images))
            class_index = (outputs[:, 0] >= 0.5).astype(np.int64) if outputs.shape[1] == 1 else outputs.argmax(1)
        return _scaled(np.mean([heatmaps(m, images, class_index, method) for m in members], axis=0))
    sharp = method == "gradcam-sharp"
    wanted = np.broadcast_to(np.asarray(-1 if class_index is None else class_index, dtype=np.int64),
                             (images.shape[0],))
    gradient_pass = _gradient_pass(model, layer or last_spatial_layer(model), sharp)
    features, gradients = gradient_pass(tf.constant(images), tf.constant(wanted))
    grads, *input_grads = (g.numpy() for g in gradients)
    features = features.numpy()
    if method != "gradcam++":
        weights = grads.mean(axis=(1, 2))
    else:  # Grad-CAM++ (Chattopadhay et al. 2018), with the exponential-score closed form of its alphas
        grads2, grads3 = grads**2, grads**3
        denominator = 2.0 * grads2 + features.sum(axis=(1, 2), keepdims=True) * grads3
        alphas = grads2 / np.where(np.abs(denominator) > 1e-12, denominator, 1e-12)
        weights = (alphas * np.maximum(grads, 0.0)).sum(axis=(1, 2))
    cams = np.maximum(np.einsum("nhwc,nc->nhw", features, weights), 0.0)
    height, width = images.shape[1:3]
    out = _scaled(np.stack([cv2.resize(cam.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
                            for cam in cams]))
    return _scaled(out * _pixel_detail(input_grads[0], images)) if sharp else out


def overlay(image: np.ndarray, heat: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """An RGB uint8 picture: ``heat`` (0..1, any size) in the JET colour map blended onto ``image`` (uint8)."""
    from medlib.display.drawing import as_rgb

    base = as_rgb(image)
    heat = cv2.resize(np.asarray(heat, np.float32), (base.shape[1], base.shape[0]), interpolation=cv2.INTER_LINEAR)
    colored = cv2.applyColorMap(np.round(np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    colored = cv2.cvtColor(colored, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(base, 1.0 - opacity, colored, opacity, 0.0)


def pointing_hit(heat: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the heat map's maximum falls inside the mask (same size)."""
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return bool(np.asarray(mask)[y, x] > 0)


def heatmap_iou(heat: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of the heat map above ``threshold`` (of its maximum) with the mask."""
    found, truth = np.asarray(heat) >= threshold, np.asarray(mask) > 0
    union = np.logical_or(found, truth).sum()
    return float(np.logical_and(found, truth).sum() / union) if union else 1.0


def localization(heat: np.ndarray, masks: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Pointing-game hit rate and mean heat-map IoU over images whose mask is not empty."""
    keep = [k for k in range(len(masks)) if np.any(masks[k])]
    if not keep:
        return {"pointing_game": None, "heatmap_iou": None, "n_lesions": 0}
    hits = [pointing_hit(heat[k], masks[k]) for k in keep]
    ious = [heatmap_iou(heat[k], masks[k], threshold) for k in keep]
    return {"pointing_game": round(float(np.mean(hits)), 4), "heatmap_iou": round(float(np.mean(ious)), 4),
            "n_lesions": len(keep)}
