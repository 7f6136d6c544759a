"""Films that receive simulated nodules (:mod:`medlib.datasets.nodules`): a set's normal films, their lungs and
spacing, a set of them written in the manifest layout (``medlib simulate-nodules``), and the nodules a training
run blends into a share of its training films (``--nodules``)."""

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
from medlib.datasets.nodules import CONTRASTS, DIAMETERS_MM, Nodule, as_film, read_nodules, simulate_nodules
from medlib.errors import DatasetError
from medlib.targets import NEGATIVE_CLASSES, Finding

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
            images[i], found[i] = self.blend(images[i], self.lungs[i], rng)
            if labels is not None and positive is not None:
                labels[i] = positive
        done = (f"{len(chosen)} of {len(normal)} training films without a finding received {self.per_film[0]}-"
                f"{self.per_film[1]} nodules ({self.diameters[0]:g}-{self.diameters[1]:g} mm, contrast "
                f"{self.contrasts[0]:g}-{self.contrasts[1]:g}) from {len(self.nodules)} CT nodules of {self.source}; "
                "validation films untouched")
        return dataclasses.replace(dataset, images=images, findings=found, labels=labels), done


    def blend(self, film: np.ndarray, lungs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[Finding]]:
        """``film`` (in its own type) with :attr:`per_film` nodules blended in ``lungs``, and their findings."""
        placed, added = simulate_nodules(film.astype(np.float32), lungs, self.nodules, self.spacing,
                                         int(rng.integers(self.per_film[0], self.per_film[1] + 1)), rng,
                                         self.diameters, self.contrasts)
        return as_film(placed, film.dtype), added

    def draws(self, film: np.ndarray, lungs: np.ndarray, n: int, seed: int) -> list[tuple[np.ndarray, list[Finding]]]:
        """``n`` seeded draws for one film without a finding, as a run makes them: each the film with nodules
        (:meth:`blend`) for a share :attr:`share` of the draws, else the film as it is (what the augmentation
        playground shows)."""
        out = []
        for k in range(n):
            rng = np.random.default_rng([seed, 35, k])
            out.append(self.blend(film, lungs, rng) if rng.uniform() < self.share else (film, []))
        return out


def prepare_simulation(folder: str | Path, dataset: Dataset, share: float,
                       lungs_model: str | Path | None = None) -> NoduleSimulation:
    """The simulation of a run on ``dataset``: the nodules of ``folder`` (NODE21's layout), each film's lungs (the
    set's own masks, else outlined by ``lungs_model``, the shipped anatomy model by default) and spacing."""
    lungs = lung_fields(dataset)
    if lungs is None:
        from medlib.answers.lungs import outlined_lungs
        from medlib.store.folders import shipped_store

        lungs = outlined_lungs(dataset, lungs_model or shipped_store() / "cxr-anatomy")
    return NoduleSimulation(read_nodules(folder), lungs, film_spacing(dataset)[0], share, Path(folder).name)
