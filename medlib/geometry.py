"""Invertible geometric steps for 2-D images and 3-D volumes, and the record of a chain of them.

Each step declares once how it moves an array (an image, with linear interpolation, or a label map, nearest),
how it moves points, and its inverse: a heat map, a label map or a point found on the model's input comes
back onto the original image by :meth:`Record.restore_map` / :meth:`Record.restore_points`, never by redoing
the arithmetic elsewhere (MONAI's invertible transforms work the same way).

Points are in array-index order (row, column[, slice...]) with pixel centres at whole numbers: the centre of
the top-left pixel is (0, 0). :func:`xy_to_index` and :func:`index_to_xy` convert a film's (x, y).

>>> record = Record((Scale((100, 80), (50, 40)), Pad(((0, 0), (5, 5)))))
>>> record.shape_out((100, 80))
(50, 50)
>>> moved = record.move_points(np.array([[10.0, 20.0]]), (100, 80))
>>> moved, record.restore_points(moved, (100, 80))
(array([[ 4.75, 14.75]]), array([[10., 20.]]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
from skimage.transform import resize as _resize_nd

Shape = tuple[int, ...]
INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                  "nearest": cv2.INTER_NEAREST}
"""How :class:`Scale` resamples an image in 2-D (a label map is always resampled nearest)."""


class Step(Protocol):
    """One invertible geometric step."""

    def shape_out(self, shape: Shape) -> Shape: ...
    def move(self, array: np.ndarray, nearest: bool = False, fill: float | None = 0) -> np.ndarray: ...
    def move_points(self, points: np.ndarray, shape: Shape) -> np.ndarray: ...
    def inverse(self, shape: Shape) -> Step: ...
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Flip:
    """Mirror along ``axis``."""

    axis: int

    def shape_out(self, shape: Shape) -> Shape:
        return shape

    def move(self, array: np.ndarray, nearest: bool = False, fill: float | None = 0) -> np.ndarray:
        return np.flip(array, self.axis)

    def move_points(self, points: np.ndarray, shape: Shape) -> np.ndarray:
        out = points.astype(np.float64, copy=True)
        out[:, self.axis] = shape[self.axis] - 1 - out[:, self.axis]
        return out

    def inverse(self, shape: Shape) -> Flip:
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"step": "flip", "axis": self.axis}


@dataclass(frozen=True)
class Turn:
    """``k`` quarter turns in the plane of ``axes``, as :func:`numpy.rot90` turns (first axis towards second)."""

    k: int
    axes: tuple[int, int] = (0, 1)

    def shape_out(self, shape: Shape) -> Shape:
        if self.k % 2 == 0:
            return shape
        out = list(shape)
        out[self.axes[0]], out[self.axes[1]] = shape[self.axes[1]], shape[self.axes[0]]
        return tuple(out)

    def move(self, array: np.ndarray, nearest: bool = False, fill: float | None = 0) -> np.ndarray:
        return np.rot90(array, self.k, self.axes)

    def move_points(self, points: np.ndarray, shape: Shape) -> np.ndarray:
        a, b = self.axes
        out = points.astype(np.float64, copy=True)
        for _ in range(self.k % 4):  # one quarter turn: (p_a, p_b) -> (n_b - 1 - p_b, p_a)
            pa, pb = out[:, a].copy(), out[:, b].copy()
            out[:, a], out[:, b] = shape[b] - 1 - pb, pa
            shape = Turn(1, self.axes).shape_out(shape)
        return out

    def inverse(self, shape: Shape) -> Turn:
        return Turn(-self.k % 4, self.axes)

    def to_dict(self) -> dict[str, Any]:
        return {"step": "turn", "k": self.k, "axes": list(self.axes)}


@dataclass(frozen=True)
class Crop:
    """Keep ``box[i] = (start, stop)`` along each leading axis (the rest are kept whole)."""

    box: tuple[tuple[int, int], ...]

    def shape_out(self, shape: Shape) -> Shape:
        return tuple(b - a for a, b in self.box) + tuple(shape[len(self.box):])

    def move(self, array: np.ndarray, nearest: bool = False, fill: float | None = 0) -> np.ndarray:
        return array[tuple(slice(a, b) for a, b in self.box)]

    def move_points(self, points: np.ndarray, shape: Shape) -> np.ndarray:
        out = points.astype(np.float64, copy=True)
        out[:, : len(self.box)] -= [a for a, _ in self.box]
        return out

    def inverse(self, shape: Shape) -> Pad:
        return Pad(tuple((a, n - b) for (a, b), n in zip(self.box, shape, strict=False)))

    def to_dict(self) -> dict[str, Any]:
        return {"step": "crop", "box": [list(b) for b in self.box]}


@dataclass(frozen=True)
class Pad:
    """Add ``width[i] = (before, after)`` along each leading axis, filled with a constant."""

    width: tuple[tuple[int, int], ...]

    def shape_out(self, shape: Shape) -> Shape:
        return tuple(n + a + b for n, (a, b) in zip(shape, self.width, strict=False)) + tuple(shape[len(self.width):])

    def move(self, array: np.ndarray, nearest: bool = False, fill: float | None = 0) -> np.ndarray:
        width = list(self.width) + [(0, 0)] * (array.ndim - len(self.width))
        value = (array.min() if array.size else 0) if fill is None else fill
        return np.pad(array, width, constant_values=np.asarray(value).astype(array.dtype))

    def move_points(self, points: np.ndarray, shape: Shape) -> np.ndarray:
        out = points.astype(np.float64, copy=True)
        out[:, : len(self.width)] += [a for a, _ in self.width]
        return out

    def inverse(self, shape: Shape) -> Crop:
        return Crop(tuple((a, a + n) for (a, _), n in zip(self.width, shape, strict=False)))

    def to_dict(self) -> dict[str, Any]:
        return {"step": "pad", "width": [list(w) for w in self.width]}


@dataclass(frozen=True)
class Scale:
    """Resample the leading axes from ``size_in`` to ``size_out`` (pixel areas kept aligned, as OpenCV does)."""

    size_in: Shape
    size_out: Shape
    interpolation: str = "area"

    def shape_out(self, shape: Shape) -> Shape:
        return tuple(self.size_out) + tuple(shape[len(self.size_out):])

    def move(self, array: np.ndarray, nearest: bool = False, fill: float | None = 0) -> np.ndarray:
        if tuple(array.shape[: len(self.size_in)]) == tuple(self.size_out):
            return array
        if len(self.size_out) == 2 and array.ndim <= 3 and array.dtype != np.int64:
            how = cv2.INTER_NEAREST if nearest else INTERPOLATIONS[self.interpolation]
            out = cv2.resize(array, (self.size_out[1], self.size_out[0]), interpolation=how)
            return out.reshape(*self.size_out, *array.shape[2:])
        order = 0 if nearest or self.interpolation == "nearest" else 3 if self.interpolation == "cubic" else 1
        out = _resize_nd(array, self.shape_out(array.shape), order=order, preserve_range=True,
                         anti_aliasing=False, mode="edge")
        return out.astype(array.dtype)

    def move_points(self, points: np.ndarray, shape: Shape) -> np.ndarray:
        factor = np.asarray(self.size_out, np.float64) / np.asarray(self.size_in, np.float64)
        out = points.astype(np.float64, copy=True)
        out[:, : len(factor)] = (out[:, : len(factor)] + 0.5) * factor - 0.5
        return out

    def inverse(self, shape: Shape) -> Scale:
        return Scale(self.size_out, self.size_in, "linear")

    def factor(self) -> float:
        """The mean scale factor (a radius grows by it)."""
        return float(np.mean(np.asarray(self.size_out, float) / np.asarray(self.size_in, float)))

    def to_dict(self) -> dict[str, Any]:
        return {"step": "scale", "size_in": list(self.size_in), "size_out": list(self.size_out),
                "interpolation": self.interpolation}


_STEPS = {"flip": lambda d: Flip(int(d["axis"])),
          "turn": lambda d: Turn(int(d["k"]), (int(d["axes"][0]), int(d["axes"][1]))),
          "crop": lambda d: Crop(tuple((int(a), int(b)) for a, b in d["box"])),
          "pad": lambda d: Pad(tuple((int(a), int(b)) for a, b in d["width"])),
          "scale": lambda d: Scale(tuple(int(v) for v in d["size_in"]), tuple(int(v) for v in d["size_out"]),
                                   str(d.get("interpolation", "area")))}


@dataclass(frozen=True)
class Record:
    """The geometric steps an array went through, in order: moves arrays and points forward, and back."""

    steps: tuple[Step, ...] = ()

    def then(self, *steps: Step) -> Record:
        return Record(self.steps + tuple(steps))

    def shape_out(self, shape: Shape) -> Shape:
        for step in self.steps:
            shape = step.shape_out(shape)
        return shape

    def move(self, array: np.ndarray, nearest: bool = False, fill: float | None = None) -> np.ndarray:
        """``array`` through every step (``nearest`` for a label map); padding takes ``fill``, by default the
        array's smallest value where it is padded."""
        for step in self.steps:
            array = step.move(array, nearest, fill)
        return np.ascontiguousarray(array)

    def move_points(self, points: np.ndarray, shape: Shape) -> np.ndarray:
        """Points (n, d) on an array of ``shape`` where they are after every step."""
        points = np.asarray(points, np.float64).reshape(len(points), -1)
        for step in self.steps:
            points = step.move_points(points, shape)
            shape = step.shape_out(shape)
        return points

    def inverse(self, shape: Shape) -> Record:
        """The steps that bring an array of this record's output back onto one of ``shape`` (the input)."""
        shapes = [tuple(shape)]
        for step in self.steps:
            shapes.append(step.shape_out(shapes[-1]))
        return Record(tuple(step.inverse(before) for step, before in zip(reversed(self.steps),
                                                                         reversed(shapes[:-1]), strict=True)))

    def restore_map(self, array: np.ndarray, shape: Shape, nearest: bool = False, fill: float = 0) -> np.ndarray:
        """A map on the output (a heat map; ``nearest`` for a label map) brought back onto the input of ``shape``."""
        return self.inverse(shape).move(array, nearest, fill)

    def restore_points(self, points: np.ndarray, shape: Shape) -> np.ndarray:
        """Points on the output brought back onto the input of ``shape``."""
        return self.inverse(shape).move_points(points, self.shape_out(shape))

    def factor(self) -> float:
        """How much lengths grow through the record (the product of the scale steps' factors)."""
        return float(np.prod([s.factor() for s in self.steps if isinstance(s, Scale)] or [1.0]))

    def to_dict(self) -> list[dict[str, Any]]:
        return [step.to_dict() for step in self.steps]

    @classmethod
    def from_dict(cls, steps: Sequence[dict[str, Any]]) -> Record:
        return cls(tuple(_STEPS[s["step"]](s) for s in steps))


def fit_record(size: Shape, target: Shape, keep_aspect: bool, interpolation: str = "area") -> Record:
    """The steps that bring an array of ``size`` to ``target``: scaled to fill it, or (``keep_aspect``) scaled
    to fit inside and padded evenly (the extra pixel of an odd margin after)."""
    size, target = tuple(size), tuple(target)
    if size == target:
        return Record()
    if not keep_aspect:
        return Record((Scale(size, target, interpolation),))
    ratio = min(t / s for t, s in zip(target, size, strict=True))
    box = tuple(max(1, round(s * ratio)) for s in size)
    steps: list[Step] = [Scale(size, box, interpolation)] if box != size else []
    if box != target:
        steps.append(Pad(tuple(((t - b) // 2, t - b - (t - b) // 2) for t, b in zip(target, box, strict=True))))
    return Record(tuple(steps))


def xy_to_index(points: np.ndarray) -> np.ndarray:
    """(x, y) points of a film as (row, column) indexes."""
    return np.asarray(points, np.float64)[:, ::-1].copy()


def index_to_xy(points: np.ndarray) -> np.ndarray:
    """(row, column) indexes as a film's (x, y) points."""
    return np.asarray(points, np.float64)[:, ::-1].copy()
