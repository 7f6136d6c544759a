"""The CSV-manifest layout: a ``.csv`` beside the images names each image (``path``), and its ``label``, ``mask``,
``split``, ``patient_id`` and located findings (``x, y[, radius_px]`` or ``x0, y0, x1, y1``, with ``finding``).

A row that gives a finding's radius in pixels and its size in millimetres (``size_mm``, its diameter) gives its
image's pixel spacing too: the JSRT manifest does (224-pixel films, 1.6 mm a pixel)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from medlib.datasets.files import SPLIT_NAMES, Entry
from medlib.errors import DatasetError
from medlib.targets import Finding

PATH_COLUMNS = ("path", "image", "file", "filename")
"""The columns that may name a manifest's images."""


def find_manifest(root: Path) -> Path | None:
    """The CSV file of ``root`` whose header names the images (a manifest), if there is one."""
    for candidate in sorted(root.glob("*.csv")):
        with open(candidate, newline="", encoding="utf-8", errors="replace") as handle:
            header = [h.strip().lower() for h in next(csv.reader(handle), [])]
        if any(c in header for c in PATH_COLUMNS):
            return candidate
    return None


def read_manifest(manifest: Path) -> tuple[list[dict[str, str]], str]:
    """A CSV manifest's rows (header names lower-cased, values stripped) and the column that names the images."""
    with open(manifest, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
    if not rows:
        raise DatasetError(f"the manifest {manifest.name} has no rows")
    path_column = next((c for c in PATH_COLUMNS if c in rows[0]), None)
    if path_column is None:
        raise DatasetError(f"the manifest {manifest.name} needs a column naming the images: "
                           f"{', '.join(PATH_COLUMNS)}")
    return rows, path_column


def _spacing_of(row: dict[str, str], finding: Finding) -> float | None:
    """The pixel spacing (mm) a row's ``size_mm`` and its finding's radius in pixels give, where both are there."""
    try:
        size = float(row.get("size_mm") or "nan")
    except ValueError:
        return None
    if finding.radius and np.isfinite(size) and size > 0:
        return size / (2.0 * finding.radius)
    return None


def manifest_entries(root: Path, split: str | None, skipped: list[str]) -> list[Entry]:
    """The entries of the manifest of ``root``: each row's image with its label, mask, split, patient and located
    findings (rows of one image gather its findings); ``split`` and ``skipped`` are not used (a manifest names
    its own splits and files)."""
    manifest = find_manifest(root)
    if manifest is None:
        raise DatasetError(f"{root} holds no CSV manifest with a column naming the images")
    base = manifest.parent.resolve()
    rows, path_column = read_manifest(manifest)
    if "label" not in rows[0] and "mask" not in rows[0]:
        raise DatasetError(f"the manifest {manifest.name} needs a label or a mask column next to {path_column!r}")

    def resolve(value: str, line: int) -> Path:
        path = (base / value).resolve()
        if base not in path.parents:
            raise DatasetError(f"{manifest.name} line {line}: {value!r} points outside the data set folder")
        return path

    located = any(c in rows[0] for c in ("x", "x0"))
    by_image: dict[Path, Entry] = {}
    missing = []
    for line, row in enumerate(rows, start=2):
        where = f"{manifest.name} line {line}"
        image = resolve(row[path_column], line)
        mask = resolve(row["mask"], line) if row.get("mask") else None
        for path in (image, mask):
            if path is not None and not path.is_file():
                missing.append(f"{path.relative_to(base)} (line {line})")
        split = row.get("split") or None
        if split is not None:
            if split.lower() not in SPLIT_NAMES:
                raise DatasetError(f"{where}: unknown split {split!r}; use train, val or test")
            split = SPLIT_NAMES[split.lower()]
        label = row.get("label") if "label" in row else None
        entry = Entry(image, label=label, mask=mask, split=split, group=row.get("patient_id") or None,
                      findings=[] if located else None, where=where)
        entry = by_image.setdefault(image, entry)
        if (entry.label, entry.mask, entry.split) != (label, mask, split):
            raise DatasetError(f"{where}: {row[path_column]} is listed again with another label, mask or split "
                               f"than on {entry.where}; give an image's rows the same ones")
        found = Finding.from_row(row, row.get("finding") or label or "finding", where) if located else None
        if found is not None:
            entry.findings.append(found)
            entry.spacing = entry.spacing or _spacing_of(row, found)
    if missing:
        shown = "; ".join(missing[:5]) + (f"; and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(f"the manifest {manifest.name} names {len(missing)} missing file(s): {shown}; "
                           "remove their rows or add the files")
    return list(by_image.values())
