"""A set a person labels image by image, saved as they go in the manifest layout that ``medlib`` reads
(:mod:`medlib.datasets.manifest`): ``images/`` (each image's own pixels, at its own size), ``masks/`` (its label
map at that size, values named by ``labels.json``), ``manifest.csv`` (path, mask, class, one row per circle with
``x, y, radius_px`` and ``size_mm`` where the spacing is known, and the split: about one image in five held back as
``test``). ``work.json`` keeps the rest: each image's labels as edited (also unsaved ones, so a reload finds them),
the models' proposal and what the person changed against it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medlib.errors import DatasetError
from medlib.labelling.labels import ImageLabels, changes, changes_summary
from medlib.targets import LABELS_FILE

WORK_FILE, MANIFEST = "work.json", "manifest.csv"
HELD_BACK = 5
"""One saved image in about this many is held back from training (the manifest's ``test`` split, chosen by a hash of
its file name, so it never changes as the set grows): the before and after figures of a run on the set."""


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def file_name(image_id: str) -> str:
    """A file name for an image of the set: its name's stem, with characters other than letters, digits, ``.``,
    ``_`` and ``-`` replaced."""
    stem = Path(image_id).stem if Path(image_id).suffix.lower() in {".png", ".dcm", ".jpg", ".jpeg", ".tif", ".tiff",
                                                                     ".npy", ".nii", ".gz"} else image_id
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "image"


def held_back(stem: str) -> bool:
    """Whether the image saved as ``stem`` is held back from training (:data:`HELD_BACK`)."""
    return int(hashlib.sha256(stem.encode()).hexdigest()[:8], 16) % HELD_BACK == 0


def as_png_pixels(pixels: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An image's pixels as a PNG holds them: whole numbers of 0–255 in 8 bits, of 0–65535 in 16, other values scaled
    linearly onto 0–65535 (with a note saying from which range); colour as RGB."""
    values = np.asarray(pixels)
    values = values[..., 0] if values.ndim == 3 and values.shape[-1] == 1 else values
    if values.dtype == np.uint8 or values.dtype == np.uint16:
        return values, None
    finite = np.nan_to_num(values.astype(np.float64))
    low, high = float(finite.min()), float(finite.max())
    if low >= 0 and high <= 65535 and np.array_equal(finite, np.round(finite)):  # whole numbers, as most films
        return finite.astype(np.uint8 if high <= 255 else np.uint16), None
    scaled = np.zeros(finite.shape) if high <= low else (finite - low) / (high - low) * 65535.0
    return np.rint(scaled).astype(np.uint16), f"values {low:.6g}..{high:.6g} scaled onto 0..65535"


class LabelledSet:
    """A labelled set in folder ``root``: its structures (outlined), classes (one per image, may be none) and the
    name of its circles' findings."""

    def __init__(self, root: Path, structures: list[str], classes: list[str], finding: str) -> None:
        self.root = root
        self.work: dict[str, Any] = {"structures": list(structures), "classes": list(classes), "finding": finding,
                                     "images": {}}
        if (root / WORK_FILE).is_file():
            self.work = json.loads((root / WORK_FILE).read_text(encoding="utf-8"))
            for name in structures:  # a structure the models name that the set has not had yet
                if name not in self.work["structures"]:
                    self.work["structures"].append(name)

    @property
    def structures(self) -> list[str]:
        return list(self.work["structures"])

    @property
    def classes(self) -> list[str]:
        return list(self.work["classes"])

    @property
    def finding(self) -> str:
        return str(self.work["finding"])

    def labels(self, image_id: str) -> ImageLabels | None:
        """The image's labels as last edited (saved or not), if it has any."""
        record = self.work["images"].get(image_id, {})
        kept = record.get("draft") or record.get("labels")
        return None if kept is None else ImageLabels.from_dict(kept)

    def saved_labels(self, image_id: str) -> ImageLabels | None:
        """The image's labels as last saved, if they were."""
        kept = self.work["images"].get(image_id, {}).get("labels")
        return None if kept is None else ImageLabels.from_dict(kept)

    def proposal(self, image_id: str) -> ImageLabels | None:
        """The models' answer that first filled the image in, if one did."""
        kept = self.work["images"].get(image_id, {}).get("proposal")
        return None if kept is None else ImageLabels.from_dict(kept)

    def is_saved(self, image_id: str) -> bool:
        return "labels" in self.work["images"].get(image_id, {})

    def has_unsaved(self, image_id: str) -> bool:
        return "draft" in self.work["images"].get(image_id, {})

    def unsaved_state(self, image_id: str) -> str:
        """What the image's unsaved labels are: ``your edits`` or ``the models' proposal`` (untouched)."""
        record = self.work["images"].get(image_id, {})
        return "the models' proposal" if record.get("draft") == record.get("proposal") else "your edits"

    @property
    def saved(self) -> list[str]:
        return [i for i, record in self.work["images"].items() if "labels" in record]

    def keep_draft(self, image_id: str, labels: ImageLabels, proposal: ImageLabels | None = None) -> None:
        """Keep the image's labels as edited so far (not yet saved), and the proposal they started from."""
        record = self.work["images"].setdefault(image_id, {})
        if proposal is not None and "proposal" not in record:
            record["proposal"] = proposal.to_dict()
        if record.get("labels") != (draft := labels.to_dict()):
            record["draft"] = draft
        else:
            record.pop("draft", None)
        self._write_work()

    def restart(self, image_id: str) -> None:
        """Set the image's edits back to the models' proposal (no labels where none was made); what was saved stays
        until it is saved again."""
        record = self.work["images"].get(image_id)
        if record is not None:
            size = (record.get("draft") or record["labels"])["size"]
            record["draft"] = record.get("proposal") or ImageLabels((size[0], size[1])).to_dict()
            self._write_work()

    def save(self, image_id: str, pixels: np.ndarray, labels: ImageLabels,
             spacing: tuple[float, float] | None = None) -> Path:
        """Save the image (its pixels, at their own size), its label map (at that size) and its labels; the
        manifest is written again. Returns the image's file."""
        if tuple(np.asarray(pixels).shape[:2]) != tuple(labels.size):
            raise DatasetError(f"the labels of {image_id} are for a {labels.size[1]}×{labels.size[0]} image, "
                               f"not its {pixels.shape[1]}×{pixels.shape[0]} pixels")
        unknown = [c for c in [labels.label] if c is not None and self.classes and c not in self.classes]
        if unknown:
            raise DatasetError(f"{unknown[0]!r} is not a class of this set ({', '.join(self.classes)})")
        record = self.work["images"].setdefault(image_id, {})
        stem = record.get("stem") or self._free_stem(file_name(image_id))
        png, note = as_png_pixels(pixels)
        for folder in ("images", "masks"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        image = self.root / "images" / f"{stem}.png"
        cv2.imwrite(str(image), cv2.cvtColor(png, cv2.COLOR_RGB2BGR) if png.ndim == 3 else png)
        if self.structures:
            cv2.imwrite(str(self.root / "masks" / f"{stem}.png"), labels.label_map(self.structures))
        proposal = record.get("proposal")
        when = datetime.now(UTC).isoformat(timespec="seconds")
        record.update({"stem": stem, "labels": labels.to_dict(), "saved": when,
                       "spacing": None if spacing is None else [float(s) for s in spacing], "pixels_note": note,
                       "changes": None if proposal is None else changes(ImageLabels.from_dict(proposal), labels)})
        record.pop("draft", None)
        self._write_work()
        self._write_manifest()
        return image

    def summary(self) -> str:
        """What the person changed against the models over the saved images, in one line."""
        return changes_summary([r["changes"] for r in self.work["images"].values() if r.get("changes")])

    def to_zip(self) -> bytes:
        """The set's folder as a ZIP (the layout ``medlib`` reads, with ``work.json``)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.root.rglob("*")):
                if path.is_file() and not path.name.endswith(".partial"):
                    archive.write(path, f"{self.root.name}/{path.relative_to(self.root)}")
        return buffer.getvalue()

    def _free_stem(self, stem: str) -> str:
        taken = {r.get("stem") for r in self.work["images"].values()}
        found, n = stem, 1
        while found in taken:
            n += 1
            found = f"{stem}_{n}"
        return found

    def _write_work(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.root / WORK_FILE, json.dumps(self.work, indent=1).encode())

    def _rows(self) -> list[dict[str, Any]]:
        """The manifest's rows. The class column is written once the saved images hold two classes (a reader takes
        a set of one class for a classifier's that lacks the other), or where the set has nothing else to read."""
        rows = []
        named = {self.work["images"][i]["labels"].get("label") for i in self.saved} - {None}
        classed = bool(self.classes) and (len(named) > 1 or not self.structures)
        for image_id in self.saved:
            record = self.work["images"][image_id]
            labels = ImageLabels.from_dict(record["labels"])
            base = {"path": f"images/{record['stem']}.png", "patient_id": record["stem"],
                    "split": "test" if held_back(record["stem"]) else "train"}
            if self.structures:
                base["mask"] = f"masks/{record['stem']}.png"
            if classed:
                base["label"] = labels.label or ""
            elif not self.structures:  # circles alone: the image is of the finding or normal
                base["label"] = self.finding if labels.findings else "normal"
            spacing = record.get("spacing")
            rows += [base | {"finding": f.label, "x": round(f.centre[0], 2), "y": round(f.centre[1], 2),
                             "radius_px": round(f.radius or 0.0, 2),
                             "size_mm": "" if spacing is None else round(2 * (f.radius or 0.0) * spacing[1], 2)}
                     for f in labels.findings] or [base]
        return rows

    def _write_manifest(self) -> None:
        rows = self._rows()
        columns = ["path", "mask", "label", "finding", "x", "y", "radius_px", "size_mm", "patient_id", "split"]
        present = [c for c in columns if any(c in row for row in rows)]
        text = io.StringIO()
        writer = csv.DictWriter(text, present, restval="")
        writer.writeheader()
        writer.writerows(rows)
        _write_atomically(self.root / MANIFEST, text.getvalue().encode())
        if self.structures:
            names = {"0": "background"} | {str(v): name for v, name in enumerate(self.structures, 1)}
            _write_atomically(self.root / LABELS_FILE, json.dumps({"labels": names}, indent=1).encode())
