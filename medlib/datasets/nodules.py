"""Simulated lung nodules: a real nodule cut from CT, projected front to back into its footprint on a radiograph,
scaled to the film's millimetres per pixel and blended into the film inside the lung fields, with its centre,
radius and outline recorded exactly (the recipe of NODE21's generation track, Sogancioglu et al. 2024).

A film is roughly the log of the X-rays' attenuation, so a nodule adds its own attenuation, its voxels' excess over
the lung around it summed along the beam, to the film's values: the footprint, scaled so its peak adds
``contrast`` of the lung fields' range of values. The footprint's centre is its values' centroid, and the radius
that of a disk of its outline's area.

>>> import numpy as np
>>> patch = np.full((9, 9, 9), -850.0); patch[3:6, 3:6, 3:6] = 40.0
>>> nodule = project_nodule(patch, patch > -500, "cube")
>>> nodule.footprint.shape, float(nodule.footprint.max()), round(nodule.diameter_mm, 2)
((3, 3), 1.0, 3.39)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from medlib.errors import DatasetError
from medlib.targets import Finding

DIAMETERS_MM = (6.0, 30.0)
"""The range of diameters a simulated nodule is drawn from by default (mm)."""
CONTRASTS = (0.04, 0.16)
"""The range of contrasts by default: what a nodule's peak adds, as a share of the lung fields' range of values."""


@dataclass(frozen=True)
class Nodule:
    """A nodule's footprint on a frontal radiograph at 1 mm a pixel (rows from head to feet, columns from the
    patient's right to left as a film shows them), 1 at its peak and 0 outside its outline."""

    footprint: np.ndarray
    diameter_mm: float
    """The diameter of a disk of the outline's area."""
    source: str


def project_nodule(patch: np.ndarray, mask: np.ndarray, source: str, spacing_mm: float = 1.0) -> Nodule:
    """The footprint of the nodule in ``mask`` (z, y, x as ITK arrays hold them: y front to back) of a CT
    ``patch`` in Hounsfield units: its voxels' excess over the lung around it (the patch's median outside the
    mask), summed front to back, cropped to its outline, rows from head to feet."""
    patch, mask = np.asarray(patch, np.float32), np.asarray(mask, bool)
    if patch.shape != mask.shape or patch.ndim != 3:
        raise DatasetError(f"{source}: a nodule patch and its mask must be one 3-D shape; got {patch.shape} and "
                           f"{mask.shape}")
    if not mask.any():
        raise DatasetError(f"{source}: the nodule's mask is empty")
    lung = float(np.median(patch[~mask])) if (~mask).any() else -850.0
    # + 1 HU a voxel: a nodule no denser than the lung around it still has its outline
    excess = (np.clip(patch - lung, 0.0, None) + 1.0) * mask
    footprint = excess.sum(axis=1)[::-1] * spacing_mm  # (z, x), superior first
    rows, columns = np.nonzero(mask.any(axis=1)[::-1])
    footprint = footprint[rows.min(): rows.max() + 1, columns.min(): columns.max() + 1]
    outline = mask.any(axis=1).sum() * spacing_mm**2
    return Nodule((footprint / max(float(footprint.max()), 1e-6)).astype(np.float32),
                  float(2 * np.sqrt(outline / np.pi)), source)


def read_nodules(folder: str | Path, limit: int | None = None) -> list[Nodule]:
    """The nodules of a folder in NODE21's layout (``nodules.csv``: ``patch, mask`` MetaImage files), projected."""
    from medlib.input import read_image

    folder = Path(folder)
    table = folder / "nodules.csv"
    if not table.is_file():
        raise DatasetError(f"{folder} has no nodules.csv; give a folder in NODE21's layout (patch, mask, "
                           "diameter_mm: CT patches of nodules as .mha)")
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    nodules = []
    for row in rows:
        patch, mask = read_image(folder / row["patch"]), read_image(folder / row["mask"])
        nodules.append(project_nodule(patch.data[..., 0], mask.data[..., 0] > 0, row["patch"],
                                      spacing_mm=patch.spacing[0] if patch.spacing else 1.0))
    return nodules


def _scaled(nodule: Nodule, spacing: float, diameter_mm: float | None) -> np.ndarray:
    """The footprint at ``spacing`` mm a pixel, its outline ``diameter_mm`` across where given (else its own)."""
    scale = (diameter_mm / nodule.diameter_mm if diameter_mm else 1.0) / spacing
    height, width = nodule.footprint.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    footprint = cv2.resize(nodule.footprint, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return footprint / max(float(footprint.max()), 1e-6)


def place_nodule(film: np.ndarray, lungs: np.ndarray, nodule: Nodule, spacing: float, contrast: float,
                 rng: np.random.Generator, diameter_mm: float | None = None,
                 centre: tuple[float, float] | None = None, label: str = "nodule") -> tuple[np.ndarray, Finding]:
    """``film`` (H×W or H×W×1, any range of values) with ``nodule`` blended in at ``spacing`` mm a pixel, its peak
    adding ``contrast`` of the lung fields' range; at ``centre`` (x, y) where given, else at a random place whose
    whole outline lies inside ``lungs`` (H×W, true in the lung fields) where the lungs allow. Also the finding: the
    footprint's exact centre (its values' centroid) and the radius of a disk of its outline's area, in pixels."""
    lungs = np.asarray(lungs, bool)
    if not lungs.any():
        raise DatasetError("the film has no lung field to place a nodule in")
    footprint = _scaled(nodule, spacing, diameter_mm)
    height, width = footprint.shape
    rows, columns = np.mgrid[0:height, 0:width]
    inner = (float((footprint * columns).sum() / footprint.sum()), float((footprint * rows).sum() / footprint.sum()))
    radius = (diameter_mm or nodule.diameter_mm) / (2 * spacing)  # its outline's, as scaled
    if centre is None:
        reach = max(1, int(np.ceil(max(height, width) / 2)))
        inside = cv2.erode(lungs.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                              (2 * reach + 1, 2 * reach + 1)))
        ys, xs = np.nonzero(inside if inside.any() else lungs)
        pick = int(rng.integers(ys.size))
        centre = (float(xs[pick]), float(ys[pick]))
    top, left = int(round(centre[1] - inner[1])), int(round(centre[0] - inner[0]))
    out = np.array(film, np.float32, copy=True)
    plane = out if out.ndim == 2 else out[..., 0]
    values = plane[lungs]
    spread = float(np.percentile(values, 99) - np.percentile(values, 1)) or 1.0
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, plane.shape[0]), min(left + width, plane.shape[1])
    if y1 <= y0 or x1 <= x0:
        raise DatasetError(f"the nodule's place ({centre[0]:g}, {centre[1]:g}) lies outside the film")
    plane[y0:y1, x0:x1] += contrast * spread * footprint[y0 - top: y1 - top, x0 - left: x1 - left]
    finding = Finding(label, (round(left + inner[0], 4), round(top + inner[1], 4)), round(radius, 3))
    return out, finding


def as_film(values: np.ndarray, kind: np.dtype) -> np.ndarray:
    """A film with a nodule blended in, back in its own type (whole numbers within an integer type's range)."""
    if np.dtype(kind).kind not in "ui":
        return values.astype(kind)
    return np.clip(np.rint(values), 0, np.iinfo(kind).max).astype(kind)


def simulate_nodules(film: np.ndarray, lungs: np.ndarray, nodules: Sequence[Nodule], spacing: float, count: int,
                     rng: np.random.Generator, diameters: tuple[float, float] = DIAMETERS_MM,
                     contrasts: tuple[float, float] = CONTRASTS) -> tuple[np.ndarray, list[Finding]]:
    """``film`` with ``count`` nodules drawn from ``nodules`` (each at a diameter and contrast drawn uniformly from
    the ranges) at random places in ``lungs``, apart from each other, and their findings."""
    found: list[Finding] = []
    free = np.asarray(lungs, bool).copy()
    for _ in range(count):
        if not free.any():
            break
        nodule = nodules[int(rng.integers(len(nodules)))]
        film, finding = place_nodule(film, free, nodule, spacing, float(rng.uniform(*contrasts)), rng,
                                     diameter_mm=float(rng.uniform(*diameters)))
        found.append(finding)
        cv2.circle(free.view(np.uint8), (round(finding.centre[0]), round(finding.centre[1])),
                   int(np.ceil(3 * finding.radius)), 0, -1)  # the next one elsewhere
    return film, found


def generated_nodule(seed: int = 0, side: int = 40) -> Nodule:
    """A made nodule, not one from CT: a solid, slightly lobulated ellipsoid of soft tissue (40 HU) in lung (-850
    HU), projected like a CT one (:func:`project_nodule`); for a page or a test without a folder of CT nodules."""
    rng = np.random.default_rng(seed)
    z, y, x = (np.mgrid[:side, :side, :side] - (side - 1) / 2) / (side / 4)
    axes = rng.uniform(0.8, 1.2, 3)
    radius = np.sqrt((z / axes[0]) ** 2 + (y / axes[1]) ** 2 + (x / axes[2]) ** 2)
    angle = np.arctan2(y, x)
    inside = radius <= 1.0 + 0.12 * np.sin(rng.integers(3, 6) * angle + rng.uniform(0, 2 * np.pi))
    patch = np.where(inside, 40.0, -850.0)
    return project_nodule(patch, inside, f"generated nodule {seed}")

