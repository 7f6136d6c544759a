"""Preprocessing: a declarative pipeline of steps (:mod:`medlib.preprocessing.steps`) applied alike in the preview, in
training and at inference, recording what it did to the image's geometry.

>>> pipeline = default_pipeline(64)
>>> out, _ = pipeline.apply(np.random.default_rng(0).integers(0, 4096, (300, 200)).astype(np.uint16))
>>> out.shape, out.dtype, float(out.min()) >= 0.0, float(out.max()) <= 1.0
((64, 64, 1), dtype('float32'), True, True)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medlib.errors import MedlibError, SpecError
from medlib.geometry import Crop, Record
from medlib.input.image import Window
from medlib.preprocessing.steps import RECORDS, STEPS, Mask, as_hwc
from medlib.spec import Spec, parse_spec
from medlib.targets import Finding, move_findings

FAMILY = "preprocess"


@dataclass(frozen=True)
class Stage:
    """The image after one step, with the step's name and the seconds it took."""

    name: str
    image: np.ndarray
    mask: np.ndarray | None
    seconds: float
    record: Record = Record()
    """The geometric steps from the input to this stage (points move by it: :meth:`Stage.move_findings`)."""

    def move_findings(self, findings: Sequence[Finding], shape: tuple[int, ...]) -> list[Finding]:
        """Findings on the input (of ``shape``) where they are at this stage."""
        return move_findings(findings, self.record, shape)


@dataclass(frozen=True)
class InputGeometry:
    """What the geometric steps of one run did to an image of ``shape``: a map or a point at the model input comes
    back onto the image as read by inverting the record."""

    shape: tuple[int, ...]
    record: Record = Record()

    @property
    def crops(self) -> bool:
        """Whether a step cut part of the image off (a map cannot come back over what was never seen)."""
        return any(isinstance(step, Crop) for step in self.record.steps)

    def to_input(self, values: np.ndarray, nearest: bool = False) -> np.ndarray | None:
        """A map at the pipeline's output (H×W) brought back to the input's size (padding dropped, scale undone,
        linear; ``nearest`` for a label map); ``None`` where a step cropped: what lay outside was never seen.

        >>> geometry = make_pipeline(("resize", {"height": 8, "mode": "pad"})).run(np.ones((4, 16))).geometry
        >>> geometry.record.steps[1]  # the 4×16 image, halved, fills rows 3 and 4 of the 8×8 output
        Pad(width=((3, 3), (0, 0)))
        >>> geometry.to_input(np.ones((8, 8), np.float32)).shape
        (4, 16)
        """
        if self.crops:
            return None
        values = np.asarray(values) if nearest else np.asarray(values, np.float32)
        return self.record.restore_map(values, self.shape[:2], nearest=nearest, fill=0)

    def to_input_points(self, points: np.ndarray) -> np.ndarray:
        """(row, column) points at the model input where they lie on the image as read."""
        return self.record.restore_points(points, self.shape[:2])


@dataclass(frozen=True)
class Processed:
    """One image through a pipeline: the model input, the mask brought along, the geometry applied and (when
    asked for) every stage."""

    image: np.ndarray
    mask: np.ndarray | None
    geometry: InputGeometry
    stages: tuple[Stage, ...] = ()


class Pipeline(Spec):
    """An ordered list of preprocessing steps; build with :func:`make_pipeline` or :func:`load_pipeline`."""

    def __init__(self, steps: list[tuple[str, dict[str, Any]]] | None = None) -> None:
        super().__init__(FAMILY, STEPS, list(steps or []))

    def run(self, image: np.ndarray, mask: Mask = None, file_window: Window | None = None,
            stages: bool = False) -> Processed:
        """The image through every step, with what each geometric step did (and every stage where ``stages``).

        A step that fails raises :class:`SpecError` naming the step and its input; NaN or infinite values in the
        result are refused.
        """
        current, current_mask = as_hwc(image), mask
        kept = [Stage("input", current, current_mask, 0.0)] if stages else []
        record, shape = Record(), current.shape
        for number, (name, params) in enumerate(self.steps, 1):
            start = time.perf_counter()
            try:
                if name in RECORDS:
                    record = record.then(*RECORDS[name](current.shape, params).steps)
                with np.errstate(all="ignore"):
                    current, current_mask = STEPS[name].build(current, current_mask, params, file_window)
            except MedlibError:
                raise
            except Exception as exc:  # OpenCV, scikit-image or NumPy refusing this input
                shape = "×".join(str(v) for v in current.shape)
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                raise SpecError(f"preprocessing step {number} ({name}) failed on a {shape} {current.dtype} input: "
                                f"{reason}; check the step's parameters") from exc
            if stages:
                kept.append(Stage(name, current, current_mask, time.perf_counter() - start, record))
        if not np.isfinite(current).all():
            raise SpecError("preprocessing produced NaN or infinite values; check the steps' parameters")
        return Processed(current, current_mask, InputGeometry(tuple(shape), record), tuple(kept))

    def at_size(self, height: int, width: int) -> Pipeline:
        """This pipeline with its resize steps bringing every image to exactly ``height``×``width``, stretched: for a
        size chosen with the image's own proportions (:meth:`medlib.models.loaded.LoadedModel.pipeline_for` takes it
        from the image's millimetres).

        >>> make_pipeline(("resize", {"height": 224}), "window").at_size(300, 250).steps[0][1]["width"]
        250
        """
        return Pipeline([(name, {**params, "height": int(height), "width": int(width), "mode": "stretch"})
                         if name == "resize" else (name, dict(params)) for name, params in self.steps])

    def trace(self, image: np.ndarray, mask: Mask = None, file_window: Window | None = None) -> list[Stage]:
        """Every stage from the input to the model input, with each step's time."""
        return list(self.run(image, mask, file_window, stages=True).stages)

    def apply(
        self, image: np.ndarray, mask: Mask = None, file_window: Window | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The model input (H×W×C float32) and the mask brought along with it."""
        processed = self.run(image, mask, file_window)
        return processed.image, processed.mask


def make_pipeline(*steps: tuple[str, Mapping[str, Any]] | str) -> Pipeline:
    """A pipeline from step names or (name, params) pairs.

    >>> make_pipeline("window", ("resize", {"height": 128})).steps[1][1]["height"]
    128
    """
    return Pipeline([(s, {}) if isinstance(s, str) else (s[0], dict(s[1])) for s in steps])


def load_pipeline(data: str | bytes | Mapping[str, Any]) -> Pipeline:
    """A pipeline from its JSON text or dict (as :meth:`Pipeline.to_json` writes it)."""
    return Pipeline(parse_spec(data, FAMILY, STEPS).steps)


def default_pipeline(size: int = 256) -> Pipeline:
    """Resize (keeping the aspect ratio) and a robust auto window to 0..1: right for any modality."""
    return make_pipeline(("resize", {"height": size}), "window")
