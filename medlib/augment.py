"""Augmentation: a JSON spec of albumentations transforms applied to an image and its mask together.

Geometric transforms move the mask with the image (nearest-neighbour, so it
stays binary); intensity transforms leave the mask alone. Images are float32
in 0..1 (what the preprocessing pipeline gives). Seeded: the same seed gives
the same variants, and the parameters drawn for each variant are recorded.

>>> aug = make_augmenter(("hflip", {"p": 1.0}))
>>> out = aug.variants(np.arange(12, dtype=np.float32).reshape(3, 4, 1) / 12, n=1, seed=0)[0]
>>> [round(float(v), 2) for v in out.image[0, :, 0]]
[0.25, 0.17, 0.08, 0.0]
"""

from __future__ import annotations

import os
import random

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no update check over the network at import

from collections.abc import Mapping  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from medlib.spec import Param, Spec, SpecError, StepKind, parse_spec  # noqa: E402

FAMILY = "augment"
_BORDER = {"border_mode": cv2.BORDER_CONSTANT, "fill": 0, "fill_mask": 0}


def _p(default: float = 0.5) -> Param:
    return Param("p", "float", default, 0.0, 1.0, help="probability that the transform is applied", step=0.05)


def _size_free(build):
    """Mark a builder as not needing the image size."""
    return lambda params, shape: build(params)


TRANSFORMS: dict[str, StepKind] = {
    s.name: s
    for s in (
        StepKind(
            "rotate", "Rotate",
            (Param("limit", "float", 10.0, 0.0, 180.0, help="largest angle in degrees"), _p()),
            _size_free(lambda q: A.Rotate(limit=q["limit"], p=q["p"], **_BORDER)), "", "geometric",
        ),
        StepKind(
            "affine", "Shift / scale / rotate / shear",
            (
                Param("shift", "float", 0.06, 0.0, 0.5, help="largest shift, as a fraction of the size", step=0.01),
                Param("scale", "float", 0.1, 0.0, 0.9, help="largest zoom in or out, as a fraction", step=0.01),
                Param("rotate", "float", 10.0, 0.0, 180.0, help="largest angle in degrees"),
                Param("shear", "float", 0.0, 0.0, 45.0, help="largest shear in degrees"),
                _p(),
            ),
            _size_free(lambda q: A.Affine(
                translate_percent=(-q["shift"], q["shift"]), scale=(1 - q["scale"], 1 + q["scale"]),
                rotate=(-q["rotate"], q["rotate"]), shear=(-q["shear"], q["shear"]), p=q["p"], **_BORDER,
            )), "", "geometric",
        ),
        StepKind(
            "hflip", "Horizontal flip", (_p(),), _size_free(lambda q: A.HorizontalFlip(p=q["p"])), "", "geometric"
        ),
        StepKind("vflip", "Vertical flip", (_p(),), _size_free(lambda q: A.VerticalFlip(p=q["p"])), "", "geometric"),
        StepKind(
            "random_resized_crop", "Random resized crop",
            (
                Param("min_area", "float", 0.7, 0.05, 1.0, help="smallest area kept, as a fraction", step=0.05),
                Param("max_ratio", "float", 1.2, 1.0, 3.0, help="largest aspect-ratio change", step=0.05),
                _p(),
            ),
            lambda q, shape: A.RandomResizedCrop(
                size=shape[:2], scale=(q["min_area"], 1.0), ratio=(1 / q["max_ratio"], q["max_ratio"]), p=q["p"]
            ), "Crop a random part and resize it back to the image size.", "geometric",
        ),
        StepKind(
            "elastic", "Elastic distortion",
            (
                Param("alpha", "float", 30.0, 0.0, 500.0, help="displacement strength in pixels"),
                Param("sigma", "float", 6.0, 1.0, 100.0, help="smoothness of the displacement field"),
                _p(0.3),
            ),
            _size_free(lambda q: A.ElasticTransform(alpha=q["alpha"], sigma=q["sigma"], p=q["p"], **_BORDER)),
            "", "geometric",
        ),
        StepKind(
            "grid_distortion", "Grid distortion",
            (
                Param("steps", "int", 5, 1, 20, help="grid cells per side"),
                Param("limit", "float", 0.2, 0.0, 1.0, help="largest distortion", step=0.01),
                _p(0.3),
            ),
            _size_free(lambda q: A.GridDistortion(
                num_steps=q["steps"], distort_limit=(-q["limit"], q["limit"]), p=q["p"], **_BORDER
            )), "", "geometric",
        ),
        StepKind(
            "brightness_contrast", "Brightness / contrast",
            (
                Param("brightness", "float", 0.15, 0.0, 1.0, help="largest brightness change", step=0.01),
                Param("contrast", "float", 0.15, 0.0, 1.0, help="largest contrast change", step=0.01),
                _p(),
            ),
            _size_free(lambda q: A.RandomBrightnessContrast(
                brightness_limit=q["brightness"], contrast_limit=q["contrast"], ensure_safe_range=True, p=q["p"]
            )), "", "intensity",
        ),
        StepKind(
            "gamma", "Gamma",
            (
                Param("low", "float", 80.0, 10.0, 100.0, help="lowest gamma × 100"),
                Param("high", "float", 120.0, 100.0, 400.0, help="highest gamma × 100"),
                _p(),
            ),
            _size_free(lambda q: A.RandomGamma(gamma_limit=(q["low"], q["high"]), p=q["p"])), "", "intensity",
        ),
        StepKind(
            "gaussian_noise", "Gaussian noise",
            (Param("std", "float", 0.03, 0.0, 0.5, help="largest noise sigma (0..1 scale)", step=0.005), _p(0.3)),
            _size_free(lambda q: A.GaussNoise(std_range=(0.0, q["std"]), p=q["p"])), "", "intensity",
        ),
        StepKind(
            "blur", "Gaussian blur",
            (Param("sigma", "float", 1.0, 0.1, 10.0, help="largest blur sigma in pixels", step=0.1), _p(0.2)),
            _size_free(lambda q: A.GaussianBlur(blur_limit=0, sigma_limit=(0.1, q["sigma"]), p=q["p"])),
            "", "intensity",
        ),
        StepKind(
            "clahe", "CLAHE",
            (Param("clip_limit", "float", 2.0, 1.0, 40.0, help="largest contrast limit", step=0.1), _p(0.2)),
            _size_free(lambda q: A.CLAHE(clip_limit=(1.0, q["clip_limit"]), p=q["p"])), "", "intensity",
        ),
        StepKind(
            "coarse_dropout", "Coarse dropout",
            (
                Param("holes", "int", 4, 1, 32, help="most holes"),
                Param("size", "float", 0.1, 0.01, 0.5, help="largest hole side, as a fraction", step=0.01),
                _p(0.3),
            ),
            _size_free(lambda q: A.CoarseDropout(
                num_holes_range=(1, q["holes"]), hole_height_range=(q["size"] / 2, q["size"]),
                hole_width_range=(q["size"] / 2, q["size"]), fill=0, p=q["p"],
            )), "Black out random rectangles of the image (the mask is kept).", "intensity",
        ),
    )
}


@dataclass(frozen=True)
class Variant:
    """One augmented sample: the image, its mask, and the parameters drawn for it."""

    image: np.ndarray
    mask: np.ndarray | None
    applied: list[dict[str, Any]]
    points: np.ndarray | None = None
    """The (x, y) points given with the image, where the draw moved them (they may leave the image)."""


#: Bookkeeping entries of albumentations' applied parameters that say nothing about the draw.
_NOT_DRAWN = {"shape", "interpolation", "mask_interpolation", "fill", "fill_mask", "output_shape",
              "x_min", "x_max", "y_min", "y_max"}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not isinstance(v, np.ndarray) and k not in _NOT_DRAWN}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class Augmenter(Spec):
    """An ordered list of augmentation transforms; build with :func:`make_augmenter` or :func:`load_augmenter`."""

    def __init__(self, steps: list[tuple[str, dict[str, Any]]] | None = None) -> None:
        super().__init__(FAMILY, TRANSFORMS, list(steps or []))

    def compose(self, shape: tuple[int, ...], seed: int | None, record: bool = True,
                points: bool = False) -> A.Compose:
        """The albumentations pipeline for images of ``shape``, seeded; ``record``: keep each draw's parameters
        (the preview shows them; training has no use for them); ``points``: move (x, y) points with the image.

        ``Compose(seed=...)`` in albumentations 2.0 gives every transform its own
        generator started from the same seed, so their coin flips agree (all
        transforms with the same ``p`` fire together). One shared stream keeps
        the draws independent and still reproducible.
        """
        transforms = [TRANSFORMS[name].build(params, shape) for name, params in self.steps]
        keypoints = A.KeypointParams(format="xy", remove_invisible=False) if points else None
        pipeline = A.Compose(transforms, save_applied_params=record, strict=True, keypoint_params=keypoints)
        pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))
        return pipeline

    def mirror_axes(self) -> tuple[tuple[int, ...], ...]:
        """The mirror images a model trained with this augmentation has seen, as axes to flip: the image itself
        ``()``, with ``hflip`` left-right ``(1,)``, with ``vflip`` top-bottom ``(0,)``, with both also ``(0, 1)``.

        >>> make_augmenter(("hflip", {"p": 0.5}), ("vflip", {"p": 0.5})).mirror_axes()
        ((), (1,), (0,), (0, 1))
        >>> default_augmenter("chest").mirror_axes()
        ((),)
        """
        used = {name for name, params in self.steps if params.get("p", 0) > 0}
        views: list[tuple[int, ...]] = [()]
        views += [(1,)] if "hflip" in used else []
        views += [(0,)] if "vflip" in used else []
        views += [(0, 1)] if {"hflip", "vflip"} <= used else []
        return tuple(views)

    def variants(self, image: np.ndarray, mask: np.ndarray | None = None, n: int = 8, seed: int = 0,
                 points: np.ndarray | None = None) -> list[Variant]:
        """``n`` augmented versions of one image (H×W×C float32 in 0..1), its mask (a label map: moved nearest)
        and its (x, y) ``points``, all moved by the same draw; the same for a seed."""
        image = np.ascontiguousarray(image, dtype=np.float32)
        if image.ndim != 3:
            raise SpecError(f"augmentation takes an H×W×C image, got shape {image.shape}")
        pipeline = self.compose(image.shape, seed, points=points is not None)
        out = []
        for _ in range(n):
            augmented, augmented_mask, applied, moved = draw_once(pipeline, image, mask, points)
            out.append(Variant(augmented, augmented_mask, applied, moved))
        return out

    def apply_fn(self, shape: tuple[int, ...], seed: int | None = None):
        """A function ``(image, mask) -> (image, mask)`` for a training input pipeline (one draw per call)."""
        pipeline = self.compose(shape, seed)

        def apply(image: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
            augmented, augmented_mask, _, _ = draw_once(pipeline, image, mask)
            return augmented, augmented_mask

        return apply


def draw_once(pipeline: A.Compose, image: np.ndarray, mask: np.ndarray | None, points: np.ndarray | None = None):
    """One draw of ``pipeline``: the image (clipped to 0..1), the mask, the recorded parameters (none where the
    pipeline does not record them) and the moved (x, y) points (None where none were given)."""
    kwargs: dict[str, Any] = {"image": np.ascontiguousarray(image, dtype=np.float32)}
    if mask is not None:
        kwargs["mask"] = np.ascontiguousarray(mask, dtype=np.uint8)
    if points is not None:
        kwargs["keypoints"] = np.asarray(points, np.float32).reshape(-1, 2)
    result = pipeline(**kwargs)
    augmented = np.clip(result["image"].reshape(image.shape), 0.0, 1.0).astype(np.float32)
    applied = [{"transform": name, **_plain(params)} for name, params in result.get("applied_transforms", [])]
    moved = None if points is None else np.asarray(result["keypoints"], np.float64).reshape(-1, 2)[:, :2]
    return augmented, result.get("mask"), applied, moved


def make_augmenter(*steps: tuple[str, Mapping[str, Any]] | str) -> Augmenter:
    """An augmenter from transform names or (name, params) pairs."""
    return Augmenter([(s, {}) if isinstance(s, str) else (s[0], dict(s[1])) for s in steps])


def load_augmenter(data: str | bytes | Mapping[str, Any]) -> Augmenter:
    """An augmenter from its JSON text or dict (as :meth:`Augmenter.to_json` writes it)."""
    return Augmenter(parse_spec(data, FAMILY, TRANSFORMS).steps)


def default_augmenter(kind: str = "chest") -> Augmenter:
    """A sensible default: ``chest`` (gray radiographs, never mirrored), ``fundus`` (colour, any orientation) or
    ``patches`` (random patches of large images: mirrored, never rotated, which would blacken their corners)."""
    if kind == "chest":
        return make_augmenter(
            ("affine", {"shift": 0.05, "scale": 0.25, "rotate": 8.0, "p": 0.7}),
            ("brightness_contrast", {"brightness": 0.25, "contrast": 0.3, "p": 0.8}),
            ("gamma", {"low": 70.0, "high": 145.0, "p": 0.5}),
            ("gaussian_noise", {"std": 0.02, "p": 0.2}),
        )
    if kind == "fundus":
        return make_augmenter(
            ("hflip", {"p": 0.5}),
            ("vflip", {"p": 0.5}),
            ("rotate", {"limit": 180.0, "p": 0.7}),
            ("elastic", {"alpha": 20.0, "sigma": 6.0, "p": 0.2}),
            ("brightness_contrast", {"brightness": 0.15, "contrast": 0.2, "p": 0.5}),
            ("gamma", {"low": 80.0, "high": 120.0, "p": 0.3}),
        )
    if kind == "patches":
        return make_augmenter(
            ("hflip", {"p": 0.5}),
            ("vflip", {"p": 0.5}),
            ("elastic", {"alpha": 20.0, "sigma": 6.0, "p": 0.2}),
            ("brightness_contrast", {"brightness": 0.15, "contrast": 0.2, "p": 0.5}),
            ("gamma", {"low": 80.0, "high": 120.0, "p": 0.3}),
        )
    raise SpecError(f"unknown default augmentation {kind!r}; choose 'chest', 'fundus' or 'patches'")
