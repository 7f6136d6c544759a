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
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medlib.datasets.dataset import Dataset
from medlib.errors import DatasetError
from medlib.targets import NEGATIVE_CLASSES, Finding

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
    excess = np.clip(patch - lung, 0.0, None) * mask
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


MANIFEST_COLUMNS = ["path", "label", "x", "y", "radius_px", "size_mm", "patient_id"]
"""The columns of a simulated set's manifest."""
FILM_SPAN_MM = 400.0
"""How wide a chest film is taken to be where it states no pixel spacing: its spacing is this over its longer side."""


def film_spacing(dataset: Dataset) -> tuple[float, str]:
    """The films' mm a pixel and where it came from: the set's own, else :data:`FILM_SPAN_MM` over their longer
    side (a stated default)."""
    if dataset.spacing is not None:
        return float(dataset.spacing[1]), "the films' own"
    return FILM_SPAN_MM / max(dataset.image_size), f"no spacing given: a film {FILM_SPAN_MM:g} mm across"


def lung_fields(dataset: Dataset) -> list[np.ndarray] | None:
    """Each film's lung fields from the set's own label maps, where they name lungs (``right lung``, ``lung
    field``...); else ``None`` (an anatomy model must outline them)."""
    if dataset.masks is None:
        return None
    lungs = [k + 1 for k, name in enumerate(dataset.structures or []) if "lung" in name.lower()]
    if not lungs and dataset.structures in ([], ["foreground"], None):
        lungs = [1]  # a set of lung masks with one foreground value
    return [np.isin(mask, lungs) for mask in dataset.masks] if lungs else None


def normal_films(films: Dataset) -> list[int]:
    """The films without a finding: none located, and of a negative class (``normal``) where the set has classes."""
    return [i for i in range(len(films)) if not (films.findings[i] if films.findings is not None else [])
            and (films.labels is None or films.class_names[films.labels[i]] in NEGATIVE_CLASSES)]


def write_simulated_set(films: Dataset, lungs: Sequence[np.ndarray], nodules: Sequence[Nodule], out: Path,
                        count: int, seed: int, per_film: tuple[int, int] = (1, 3),
                        diameters: tuple[float, float] = DIAMETERS_MM,
                        contrasts: tuple[float, float] = CONTRASTS) -> dict[str, Any]:
    """Write ``count`` films, each a film of ``films`` without a finding (drawn in turn, in a seeded order) with
    ``per_film`` nodules blended in, and each film they came from as it was, to ``out`` in the manifest layout
    (``images/*.png``; ``manifest.csv``: label ``nodule`` with one row per nodule, its centre, radius and size in
    mm, or ``normal``; the film it came from as ``patient_id``, so a film and its copies are never split;
    ``simulation.json``: how it was made)."""
    normal = normal_films(films)
    if not normal:
        raise DatasetError(f"{films.name} holds no film without a finding to place nodules in")
    rng = np.random.default_rng(seed)
    order = rng.permutation(normal)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    spacing, why = film_spacing(films)
    for n in range(count):
        i = int(order[n % order.size])
        film, found = simulate_nodules(films.images[i].astype(np.float32), lungs[i], nodules, spacing,
                                       int(rng.integers(per_film[0], per_film[1] + 1)), rng, diameters, contrasts)
        patient = films.groups[i] if films.groups else films.ids[i]
        name, source = f"images/sim{n:05d}_{Path(films.ids[i]).stem}.png", f"images/{Path(films.ids[i]).stem}.png"
        _write_film(out / name, film, films.images.dtype)
        if not (out / source).exists():
            _write_film(out / source, films.images[i], films.images.dtype)
            rows.append({"path": source, "label": "normal", "patient_id": patient})
        for finding in found:
            rows.append({"path": name, "label": "nodule", "x": finding.centre[0], "y": finding.centre[1],
                         "radius_px": finding.radius, "size_mm": round(2 * finding.radius * spacing, 3),
                         "patient_id": patient})
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    made = {"films": count, "nodules": sum(row["label"] == "nodule" for row in rows), "from": films.name,
            "normal_films": len(normal), "seed": seed,
            "per_film": list(per_film), "diameters_mm": list(diameters), "contrasts": list(contrasts),
            "nodule_patches": len(nodules), "spacing_mm": round(spacing, 4), "spacing_from": why, "synthetic": True}
    (out / "simulation.json").write_text(json.dumps(made, indent=2), encoding="utf-8")
    return {"out": str(out), **made}


def _write_film(path: Path, film: np.ndarray, kind: np.dtype) -> None:
    """A film as a PNG of its set's bit depth (8 bits for 8-bit films, else 16)."""
    top = 255 if kind == np.uint8 else 65535
    cv2.imwrite(str(path), np.clip(np.rint(film), 0, top).astype(np.uint8 if top == 255 else np.uint16))


@dataclass
class NoduleSimulation:
    """Nodules from CT blended into a share of a run's training films without a finding (a training
    augmentation: the validation and test films stay as they are). :func:`prepare_simulation` reads the nodules and
    finds each film's lungs."""

    nodules: list[Nodule]
    lungs: list[np.ndarray]
    """Each film's lung fields (H×W), by the film's number in the set."""
    spacing: float
    share: float
    source: str
    per_film: tuple[int, int] = (1, 3)
    diameters: tuple[float, float] = DIAMETERS_MM
    contrasts: tuple[float, float] = CONTRASTS

    def apply(self, dataset: Dataset, index: np.ndarray, seed: int) -> tuple[Dataset, str]:
        """``dataset`` with :attr:`share` of the films at ``index`` that hold no finding given 1 to 3 nodules each
        (their findings added, their class the nodules' where the set has one), and what was done, in one line."""
        found = [list(f) for f in dataset.findings] if dataset.findings is not None else [[] for _ in dataset.ids]
        normal = [int(i) for i in index if not found[i]]
        rng = np.random.default_rng([seed, 35])
        chosen = [i for i in normal if rng.uniform() < self.share]
        images, labels = dataset.images.copy(), None if dataset.labels is None else dataset.labels.copy()
        positive = next((k for k, name in enumerate(dataset.class_names) if name not in NEGATIVE_CLASSES), None)
        for i in chosen:
            film, added = simulate_nodules(images[i].astype(np.float32), self.lungs[i], self.nodules, self.spacing,
                                           int(rng.integers(self.per_film[0], self.per_film[1] + 1)), rng,
                                           self.diameters, self.contrasts)
            images[i] = as_film(film, images.dtype)
            found[i] = added
            if labels is not None and positive is not None:
                labels[i] = positive
        done = (f"{len(chosen)} of {len(normal)} training films without a finding received {self.per_film[0]}-"
                f"{self.per_film[1]} nodules ({self.diameters[0]:g}-{self.diameters[1]:g} mm, contrast "
                f"{self.contrasts[0]:g}-{self.contrasts[1]:g}) from {len(self.nodules)} CT nodules of {self.source}; "
                "validation films untouched")
        return dataclasses.replace(dataset, images=images, findings=found, labels=labels), done


def prepare_simulation(folder: str | Path, dataset: Dataset, share: float,
                       lungs_model: str | Path | None = None) -> NoduleSimulation:
    """The simulation of a run on ``dataset``: the nodules of ``folder`` (NODE21's layout), each film's lungs (the
    set's own masks, else outlined by ``lungs_model``, the shipped anatomy model by default) and spacing."""
    lungs = lung_fields(dataset)
    if lungs is None:
        from medlib.answers.anatomy import outlined_lungs
        from medlib.store.folders import shipped_store

        lungs = outlined_lungs(dataset, lungs_model or shipped_store() / "cxr-anatomy")
    return NoduleSimulation(read_nodules(folder), lungs, film_spacing(dataset)[0], share, Path(folder).name)


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
