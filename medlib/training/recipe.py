"""The default recipe, derived from a data set's fingerprint (:mod:`medlib.training.fingerprint`), each choice with its
one-line reason, as nnU-Net derives its own: for 2-D images on a CPU budget.

- **Input size, patches and batch** from the image and object sizes: images up to :data:`WHOLE_SIDE` pixels
  are taken whole; larger ones whole but shrunk where their objects are large (lung fields), at full resolution
  in random patches where they are small or thin (vessels).
- **Network depth** from the input or patch side (:func:`medlib.models.architectures.unet_depth_for`).
- **Normalisation** from how the values are stored: 8-bit and 0..1 data by their full scale, CT by one
  Hounsfield window over the foreground's values (all values without masks), other data by a window per image.
  For colour segmentation the green channel where it separates the masks' foreground from the background
  clearly better than gray, and CLAHE where it separates them clearly better still (both measured on training
  images); classifiers keep colour.
- **Augmentation** from the data's kind: gray films keep their side (zoom, small rotations, exposure); colour
  images may be mirrored and turned; patches are mirrored but never rotated (rotation blackens their corners).
- **Training length**: with a time budget the run uses it all (the schedule follows the clock); without one,
  at least :data:`medlib.training.budget.MIN_STEPS` optimiser steps and :data:`medlib.training.budget.MIN_EPOCHS`
  passes.

Whatever the user sets (a spec, a setting) wins, and each choice says whether it was derived or set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medlib.augment import Augmenter, default_augmenter, load_augmenter
from medlib.datasets.partial import labelled_map
from medlib.models.architectures import ARCHITECTURES
from medlib.preprocessing.pipeline import Pipeline, load_pipeline, make_pipeline
from medlib.preprocessing.steps import window_for
from medlib.tasks import Task, tasks_for

WHOLE_SIDE = 256
"""Largest side taken whole: larger images are shrunk (large objects) or cut into patches (small ones)."""
CLASSIFIER_SIDE = 128
"""Largest input side of a classifier (what a CPU trains on in minutes)."""
LARGE_OBJECT_SHARE = 0.01
"""Objects whose median area is at least this share of the image count as large."""
SAMPLES_PER_EPOCH = 1024
"""Patches drawn per epoch over all training images (so that an epoch of a few large images is not one step)."""
CLEARLY_BETTER = 1.1
"""A preprocessing alternative is taken when it separates foreground from background this much better."""
MEASURED_IMAGES = 8
"""Training images on which the channel and CLAHE are measured."""
@dataclass(frozen=True)
class Choice:
    """One setting of a run: its value, why, and whether it was derived from the data or set by the user."""

    value: Any
    reason: str
    derived: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "reason": self.reason, "derived": self.derived}


@dataclass
class DerivedSettings:
    """The derived settings of a run (before the data are batched), with a :class:`Choice` for each."""

    model: str
    side: int
    patch: int
    per_image: int
    pipeline: Pipeline
    augmenter: Augmenter
    choices: dict[str, Choice] = field(default_factory=dict)


def input_size(maps: bool, facts: dict[str, Any], train_images: int) -> tuple[int, int, int, str]:
    """(input side, patch side or 0, patches per image, reason) from the image and object sizes, for a model that
    answers with ``maps`` or one row per image."""
    long_side = max(facts["size"]["stored"])
    if not maps:
        side = min(long_side, CLASSIFIER_SIDE)
        why = (f"the images' own side ({long_side} px)" if side == long_side else
               f"the images' long side ({long_side} px) shrunk to {side}, what a CPU trains on in minutes")
        return side, 0, 1, why
    masks = facts.get("masks", {})
    share, object_side = masks.get("object_share", 1.0), masks.get("object_side_px", float(long_side))
    if long_side <= WHOLE_SIDE:
        side = max(16, long_side // 16 * 16)
        return side, 0, 1, f"whole images: {long_side} px fit the CPU budget (a multiple of 16 for the U-Net)"
    if share >= LARGE_OBJECT_SHARE:
        return (WHOLE_SIDE, 0, 1, f"whole images shrunk to {WHOLE_SIDE} px: the objects are large (the median one "
                f"covers {share:.1%} of the image) and keep their shape")
    side = min(long_side, 1024)  # validation goes in tiles: any side will do
    patch = 64 if object_side <= 16 else 128
    per_image = int(min(64, max(8, math.ceil(SAMPLES_PER_EPOCH / max(train_images, 1)))))
    return (side, patch, per_image, f"small or thin objects (median {object_side:.0f} px a side, {share:.2%} of the "
            f"image) at full resolution ({side} px): random {patch}-px patches, {per_image} per image and epoch; "
            "validation in overlapping tiles of whole images")


def _separation(values: np.ndarray, masks: np.ndarray, region: np.ndarray) -> float:
    """How far apart foreground and background values lie (Fisher's ratio, inside ``region``)."""
    masks = labelled_map(masks)
    fore, back = values[(masks > 0) & region], values[(masks == 0) & region]
    if fore.size < 10 or back.size < 10:
        return 0.0
    spread = math.sqrt((float(fore.var()) + float(back.var())) / 2.0) or 1e-6
    return abs(float(fore.mean()) - float(back.mean())) / spread


def _clahe(channel: np.ndarray) -> np.ndarray:
    """CLAHE as the ``equalize`` step does it (clip limit 2, 8×8 tiles, on 16 bits)."""
    return make_pipeline(("equalize", {})).apply(channel[..., None])[0][..., 0]


def contrast_choice(images: np.ndarray, masks: np.ndarray, fov: np.ndarray | None) -> tuple[str, bool, str]:
    """The channel mode (``gray``, ``green`` or ``rgb``) and whether CLAHE helps a segmenter, measured by how well
    each separates the masks' foreground from the background on these training images (inside the field of view)."""
    region = fov > 0 if fov is not None else np.ones(masks.shape, bool)
    values = images.astype(np.float32)
    gray = values.mean(axis=-1)
    scores = {"gray": _separation(gray, masks, region)}
    mode, channel = "gray", gray
    if values.shape[-1] == 3:
        scores["green"] = _separation(values[..., 1], masks, region)
        mode, channel = ("green", values[..., 1]) if scores["green"] >= CLEARLY_BETTER * scores["gray"] else ("rgb",
                                                                                                              gray)
    with_clahe = _separation(np.stack([_clahe(c) for c in channel]), masks, region)
    base = scores["green" if mode == "green" else "gray"]
    clahe = with_clahe >= CLEARLY_BETTER * base
    measured = ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
    reason = (f"foreground/background separation (Fisher's ratio) on {len(images)} training images: {measured}; "
              f"with CLAHE {with_clahe:.2f}, {'taken' if clahe else 'not taken'} (a choice must be "
              f"{CLEARLY_BETTER - 1:.0%} better)")
    return mode, clahe, reason


def _window(facts: dict[str, Any], dataset: Any, train: np.ndarray) -> tuple[dict[str, Any], str]:
    """The window step's parameters for the data's kind, and why."""
    kind = facts["intensity"]["kind"]
    if kind == "CT (HU)":
        picks = train[:: max(1, train.size // 50)]
        values = dataset.images[picks, ..., 0].astype(np.float32)
        if dataset.masks is not None and dataset.masks[picks].any():
            values = values[labelled_map(dataset.masks[picks]) > 0]
        low, high = np.percentile(values, [0.5, 99.5])
        where = "the foreground's" if dataset.masks is not None else "all"
        return ({"preset": "custom", "center": float((low + high) / 2), "width": float(max(high - low, 1.0))},
                f"CT in Hounsfield units: one window over {where} values, {low:.0f} to {high:.0f} HU (their 0.5 and "
                "99.5 percentiles), the same for every image")
    window = window_for(dataset.images[train[:: max(1, train.size // 200)]])
    if window.get("preset") == "bits":
        return window, f"{kind} values: their full scale, the same for every image (a 16-bit export looks alike)"
    return window, f"{kind} values: a window per image (0.5 to 99.5 percentiles)"


def _augmentation(channels: int, patch: int) -> tuple[Augmenter, str]:
    if patch:
        return default_augmenter("patches"), "patches: mirrored either way, elastic, exposure; never rotated " \
                                             "(rotation blackens a patch's corners)"
    if channels == 3:
        return default_augmenter("fundus"), "colour photographs: mirrored and turned any way, elastic, exposure"
    return default_augmenter("chest"), "gray films: zoom ±25%, rotation ±8°, exposure, noise; never mirrored " \
                                       "(anatomy has a side)"


def derive(config: Any, task: Task, dataset: Any, facts: dict[str, Any], train: np.ndarray) -> DerivedSettings:
    """The derived settings of a run: each setting the user left automatic derived from the data, each one set kept."""
    choices: dict[str, Choice] = {}
    if config.model != "auto":
        model = config.model
        choices["model"] = Choice(model, "set", False)
    else:
        model = task.default_model
        choices["model"] = Choice(model, f"the default for {task.title}: " + ARCHITECTURES[model].description)
    maps = ARCHITECTURES[model].dense
    side, patch, per_image, why = input_size(maps, facts, train.size)
    if config.image_size:
        side, why = config.image_size, "set"
        patch, per_image = (0, 1) if not config.patch_size else (patch, per_image)
    choices["input side"] = Choice(side, why, not config.image_size)
    if maps:
        if config.patch_size:
            patch, why = config.patch_size, "set"
        choices["patch side"] = Choice(patch or None, why if patch else "none: whole images", not config.patch_size)
        if config.patches_per_image:
            per_image = config.patches_per_image
        if patch:
            choices["patches per image"] = Choice(per_image, "set" if config.patches_per_image else
                                                  f"about {SAMPLES_PER_EPOCH} patches an epoch",
                                                  not config.patches_per_image)
    if config.preprocess is not None:
        pipeline = load_pipeline(config.preprocess)
        choices["preprocessing"] = Choice(" → ".join(n for n, _ in pipeline.steps), "set", False)
    else:
        pipeline, why = derived_pipeline(dataset, maps, facts, train, side)
        choices["preprocessing"] = Choice(" → ".join(n for n, _ in pipeline.steps), why)
    if config.augment is not None:
        augmenter = load_augmenter(config.augment)
        choices["augmentation"] = Choice(", ".join(n for n, _ in augmenter.steps) or "none", "set", False)
    else:
        augmenter, why = _augmentation(dataset.channels, patch)
        choices["augmentation"] = Choice(", ".join(n for n, _ in augmenter.steps), why)
    return DerivedSettings(model, side, patch, per_image, pipeline, augmenter, choices)


def derived_pipeline(dataset: Any, maps: bool, facts: dict[str, Any], train: np.ndarray,
                     side: int) -> tuple[Pipeline, str]:
    """The derived preprocessing of a data set at ``side`` pixels for a model that answers with ``maps`` (its
    contrast chosen on the targets) or per image, and why, in one line."""
    height, width = dataset.image_size
    stretch = dataset.fit == "stretch" or (dataset.fit in ("as read", "scaled") and height == width)
    resize = ("resize", {"height": side, "mode": "stretch" if stretch else "pad"})
    shape = "squares of one size: stretched" if stretch else "aspect kept, padded"
    window, why_window = _window(facts, dataset, train)
    if maps:
        picks = train[:: max(1, train.size // MEASURED_IMAGES)][:MEASURED_IMAGES]
        fov = None if dataset.fov is None else dataset.fov[picks]
        mode, clahe, why_contrast = contrast_choice(dataset.images[picks], dataset.masks[picks], fov)
        steps: list = [("color", {"mode": mode}), resize]
        steps += [("equalize", {"method": "clahe"})] if clahe else [("window", window)]
        return make_pipeline(*steps), f"{mode}; {shape}; {why_contrast}" + ("" if clahe else f"; {why_window}")
    mode = "gray" if dataset.channels == 1 else "rgb"
    return make_pipeline(("color", {"mode": mode}), resize, ("window", window)), f"{mode}; {shape}; {why_window}"


def dataset_defaults(dataset: Any) -> tuple[Pipeline, Augmenter]:
    """The preprocessing and augmentation the default recipe derives for a data set (for the first task it can
    train: classification where it has labels): what the Preprocessing and Augmentation pages start from."""
    from medlib.training.fingerprint import data_fingerprint

    task = tasks_for(dataset)[0]
    dataset = task.training_set(dataset)
    facts = data_fingerprint(dataset)
    train = dataset.indices("train") if dataset.indices("train").size else np.arange(len(dataset))
    maps = ARCHITECTURES[task.default_model].dense
    side, patch, _, _ = input_size(maps, facts, train.size)
    pipeline, _ = derived_pipeline(dataset, maps, facts, train, side)
    return pipeline, _augmentation(dataset.channels, patch)[0]
