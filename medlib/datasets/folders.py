"""Data sets laid out as folders: class sub-folders, image/mask folders, or a CSV manifest."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from medlib.datasets.assemble import Geometry, ImageStack, fit_mask, plan_geometry, read_frame, read_mask
from medlib.datasets.cache import Chunk, shard_size
from medlib.datasets.dataset import Dataset, placeholder
from medlib.datasets.split import assign_splits
from medlib.errors import DatasetError
from medlib.readers.header import image_header
from medlib.readers.sniff import sniff_format
from medlib.targets import LABELS_FILE, Finding, Structures, move_findings

_SPLIT_NAMES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}
_IMAGE_DIRS = ("images", "image", "imgs", "img")
_MASK_DIRS = ("masks", "labels", "label", "1st_manual", "manual", "annotations", "gt", "groundtruth", "mask")
_FOV_DIRS = ("fov", "roi")
_MANIFEST_PATH_COLUMNS = ("path", "image", "file", "filename")


def is_image_file(path: Path) -> bool:
    """Whether a file is an image that the readers know, judged by its first bytes."""
    if not path.is_file() or path.name.startswith("."):
        return False
    with open(path, "rb") as handle:
        return sniff_format(handle.read(512), path.name) not in (None, "npy")


def _children(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX")))


def unwrap(root: Path) -> Path:
    """Step into a lone top-level folder (a ZIP of ``data/`` holds only ``data``).

    A lone folder that holds no sub-folder is a class or image folder itself, so it is kept,
    unless it holds a CSV manifest next to its images; so is a lone split folder (``test/``), whose name is its split.
    """
    while True:
        children = _children(root)
        lone = children[0] if len(children) == 1 and children[0].is_dir() else None
        if lone is not None and lone.name.lower() not in _SPLIT_NAMES and any(
            p.is_dir() or p.suffix.lower() == ".csv" for p in _children(lone)
        ):
            root = lone
        else:
            return root


def _images_in(folder: Path, skipped: list[str]) -> list[Path]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if is_image_file(path):
            found.append(path)
        elif not path.name.startswith("."):
            skipped.append(path.name)
    return found


def _number_key(stem: str) -> str | None:
    match = re.match(r"\D*(\d+)", stem)
    return str(int(match.group(1))) if match else None


def _match(images: list[Path], candidates: list[Path], what: str) -> list[Path]:
    """For each image, the candidate with the same stem, else the same first number."""
    by_stem = {p.stem.lower(): p for p in candidates}
    by_number: dict[str, Path] = {}
    for p in candidates:
        key = _number_key(p.stem)
        if key is not None:
            by_number.setdefault(key, p)
    matched = []
    for image in images:
        found = by_stem.get(image.stem.lower())
        if found is None and (key := _number_key(image.stem)) is not None:
            found = by_number.get(key)
        if found is None:
            raise DatasetError(f"no {what} found for image {image.name}; name it like the image (same stem or number)")
        matched.append(found)
    return matched


def _segmentation_dirs(folder: Path) -> tuple[Path, Path, Path | None] | None:
    """(images, masks, field-of-view) sub-folders of ``folder``, if it is laid out that way."""
    names = {p.name.lower(): p for p in _children(folder) if p.is_dir()}
    image_dir = next((names[n] for n in _IMAGE_DIRS if n in names), None)
    mask_names = [n for n in _MASK_DIRS if n in names]
    if image_dir is None or not mask_names:
        return None
    fov_dir = next((names[n] for n in _FOV_DIRS if n in names), None)
    if fov_dir is None and len(mask_names) > 1 and "mask" in mask_names:
        fov_dir = names["mask"]  # DRIVE: 1st_manual holds the vessels, mask the field of view
    return image_dir, names[mask_names[0]], fov_dir


def _split_dirs(root: Path) -> dict[str, Path]:
    return {_SPLIT_NAMES[p.name.lower()]: p for p in _children(root) if p.is_dir() and p.name.lower() in _SPLIT_NAMES}


@dataclass
class Entry:
    """One image of a data set before it is read: where it is and what is known of it."""

    image: Path
    label: str | None = None
    mask: Path | None = None
    fov: Path | None = None
    split: str | None = None
    group: str | None = None
    findings: list[Finding] | None = None
    """Located findings in pixels of the image as its file has it (a manifest's ``x, y`` or box columns)."""
    where: str = ""
    """Where the entry was declared (a manifest's name and line), for messages."""


def _sizes(entries: list[Entry]) -> list[tuple[int, int, int]]:
    """Each image's (height, width, channels): from its header, or by decoding it where there is no cheap header."""
    sizes = []
    for entry in entries:
        header = image_header(entry.image)
        if header is None:
            frame, _ = read_frame(entry.image)
            header = (int(frame.shape[0]), int(frame.shape[1]), int(frame.shape[2]))
        sizes.append(header)
    return sizes


def _read_masks(paths: list[Path | None], sizes: list[tuple[int, int]], geometry: Geometry,
                ids: list[str], structures: Structures | None = None) -> np.ndarray:
    masks = np.zeros((len(paths), geometry.height, geometry.width), np.uint8)
    for index, path in enumerate(paths):
        if path is not None:
            masks[index] = fit_mask(read_mask(path, structures), sizes[index], geometry, ids[index])
    return masks


@dataclass
class FolderPlan:
    """A data set of files before its pixels are read: every entry, the geometry and channels they are brought
    to, and the labels, splits, patients and notes. ``template`` is the :class:`Dataset` it makes, with
    placeholder arrays (no memory) until :meth:`read` fills them."""

    entries: list[Entry]
    geometry: Geometry
    channels: int
    template: Dataset
    structures: Structures | None = None
    """The names of the masks' values (from a ``labels.json``), or None for plain one-structure masks."""
    multi_frame: int = 0
    """Files read so far that held more than one frame (the first was used)."""

    def read(self, start: int = 0, stop: int | None = None) -> Chunk:
        """The images (and masks and fields of view) of entries ``start`` to ``stop``, read and fitted."""
        entries = self.entries[start:stop]
        sizes, ids = self.template.source_sizes[start:stop], self.template.ids[start:stop]
        stack = ImageStack(len(entries), self.geometry, self.channels)
        for index, entry in enumerate(entries):
            frame, more = read_frame(entry.image, reduce_to=max(self.geometry.height, self.geometry.width))
            self.multi_frame += more
            stack.put(index, frame)
        masks = _read_masks([e.mask for e in entries], sizes, self.geometry, ids, self.structures) \
            if self.template.masks is not None else None
        fov = _read_masks([e.fov for e in entries], sizes, self.geometry, ids) \
            if self.template.fov is not None else None
        return Chunk(stack.array, masks, fov)

    def chunks(self, size: int | None = None) -> Iterator[Chunk]:
        """Every entry's pixels, ``size`` images at a time (by default a shard's worth, :func:`shard_size`)."""
        size = size or shard_size((self.geometry.height, self.geometry.width, self.channels))
        for start in range(0, len(self.entries), size):
            yield self.read(start, start + size)
        self._note_frames()

    def dataset(self) -> Dataset:
        """The whole data set, read into memory."""
        chunk = self.read()
        self._note_frames()
        return replace(self.template, images=chunk.images, masks=chunk.masks, fov=chunk.fov)

    def _note_frames(self) -> None:
        if self.multi_frame:
            self.template.notes.append(f"{self.multi_frame} multi-frame file(s): the first frame of each was used")


def _placed_findings(entries: list[Entry], sizes: list[tuple[int, int]], geometry: Geometry) -> list[list[Finding]]:
    """Each entry's findings moved as its image is brought to ``geometry`` (by the fit's own record)."""
    out = []
    for entry, size in zip(entries, sizes, strict=True):
        record = geometry.record(size)
        for finding in entry.findings or []:
            finding.check_inside(size, entry.where or entry.image.name)
        out.append(move_findings(entry.findings or [], record, size))
    return out


def plan_folder(entries: list[Entry], name: str, seed: int = 0, skipped: list[str] | None = None,
                fit: str = "pad", structures: Structures | None = None) -> FolderPlan:
    """Plan a :class:`Dataset` of the files of ``entries`` from their headers and names (images of many sizes:
    see ``fit``); no pixel is decoded except where a format has no cheap header."""
    if not entries:
        raise DatasetError(
            "no images were found: use one sub-folder per class, images/ and masks/ folders, "
            "or a CSV manifest with a path column"
        )
    notes: list[str] = []
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        notes.append(f"skipped {len(skipped)} non-image file(s): {shown}")
    labels, class_names = None, []
    if any(e.label is not None for e in entries):
        unlabeled = [e.image.name for e in entries if e.label in (None, "")]
        if unlabeled:
            raise DatasetError(f"{len(unlabeled)} image(s) have no label, e.g. {unlabeled[0]}; label every image")
        class_names = sorted({str(e.label) for e in entries})
        labels = np.array([class_names.index(str(e.label)) for e in entries], dtype=np.int64)

    headers = _sizes(entries)
    geometry, note = plan_geometry([(h, w) for h, w, _ in headers], fit)
    channels = 3 if sum(c == 3 for _, _, c in headers) * 2 > len(headers) else 1
    if note:
        notes.append(note)
    converted = sum(c != channels for _, _, c in headers)
    if converted:
        notes.append(f"{converted} image(s) converted to {'RGB' if channels == 3 else 'gray'}")

    groups = [e.group for e in entries] if all(e.group for e in entries) else None
    given = {e.split for e in entries}
    if None in given and len(given) > 1:
        raise DatasetError("some images have a split and some do not; give a split for all or for none")
    if given <= {None, "train"}:
        split = assign_splits(len(entries), labels, groups, seed)
        notes.append(
            "no validation or test split was given: a seeded stratified 70/15/15 split was made"
            + (", grouped by patient" if groups is not None else "")
        )
    else:
        split = np.array([e.split for e in entries], dtype=str)
        if "val" not in given:
            notes.append("no validation split was given; training holds out part of train")
    n, side = len(entries), (geometry.height, geometry.width)
    template = Dataset(
        name=name,
        images=placeholder((n, *side, channels)),
        split=split,
        ids=[e.image.stem for e in entries],
        labels=labels,
        class_names=class_names,
        masks=placeholder((n, *side)) if any(e.mask for e in entries) else None,
        fov=placeholder((n, *side)) if any(e.fov for e in entries) else None,
        groups=groups,
        notes=notes,
        fit=geometry.fit,
        source_sizes=[(h, w) for h, w, _ in headers],
        structures=list(structures.names) if structures is not None else [],
        findings=_placed_findings(entries, [(h, w) for h, w, _ in headers], geometry)
        if any(e.findings is not None for e in entries) else None,
    )
    return FolderPlan(entries, geometry, channels, template, structures)


def build_dataset(entries: list[Entry], name: str, seed: int = 0, skipped: list[str] | None = None,
                  fit: str = "pad", structures: Structures | None = None) -> Dataset:
    """Read the files of ``entries`` and make a :class:`Dataset` of them (images of many sizes: see ``fit``)."""
    return plan_folder(entries, name, seed, skipped, fit, structures).dataset()


def _entries_from_layout(folder: Path, split: str | None, skipped: list[str]) -> list[Entry]:
    seg = _segmentation_dirs(folder)
    if seg is not None:
        image_dir, mask_dir, fov_dir = seg
        images = _images_in(image_dir, skipped)
        masks = _match(images, _images_in(mask_dir, []), "mask")
        fovs = _match(images, _images_in(fov_dir, []), "field-of-view mask") if fov_dir else [None] * len(images)
        return [Entry(i, mask=m, fov=f, split=split) for i, m, f in zip(images, masks, fovs, strict=True)]
    entries = []
    for class_dir in (p for p in _children(folder) if p.is_dir()):
        entries += [Entry(i, label=class_dir.name, split=split) for i in _images_in(class_dir, skipped)]
    skipped += [p.name for p in _children(folder) if p.is_file()]
    return entries


def _find_manifest(root: Path) -> Path | None:
    for candidate in sorted(root.glob("*.csv")):
        with open(candidate, newline="", encoding="utf-8", errors="replace") as handle:
            header = [h.strip().lower() for h in next(csv.reader(handle), [])]
        if any(c in header for c in _MANIFEST_PATH_COLUMNS):
            return candidate
    return None


def read_manifest(manifest: Path) -> tuple[list[dict[str, str]], str]:
    """A CSV manifest's rows (header names lower-cased, values stripped) and the column that names the images."""
    with open(manifest, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
    if not rows:
        raise DatasetError(f"the manifest {manifest.name} has no rows")
    path_column = next((c for c in _MANIFEST_PATH_COLUMNS if c in rows[0]), None)
    if path_column is None:
        raise DatasetError(f"the manifest {manifest.name} needs a column naming the images: "
                           f"{', '.join(_MANIFEST_PATH_COLUMNS)}")
    return rows, path_column


def _entries_from_manifest(manifest: Path) -> list[Entry]:
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
            if split.lower() not in _SPLIT_NAMES:
                raise DatasetError(f"{where}: unknown split {split!r}; use train, val or test")
            split = _SPLIT_NAMES[split.lower()]
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
    if missing:
        shown = "; ".join(missing[:5]) + (f"; and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(f"the manifest {manifest.name} names {len(missing)} missing file(s): {shown}; "
                           "remove their rows or add the files")
    return list(by_image.values())


def _structures_of(root: Path, mask_dir: Path | None) -> Structures | None:
    """The names of the masks' values, from a ``labels.json`` in the data set's folder or its mask folder."""
    for folder in (root, mask_dir):
        if folder is not None and (folder / LABELS_FILE).is_file():
            return Structures.read(folder / LABELS_FILE)
    return None


def folder_plan(folder: Path, name: str | None = None, seed: int = 0, fit: str = "pad") -> FolderPlan:
    """Plan the data set of a folder: a CSV manifest, image/mask folders or class folders, with or without split
    folders (:func:`plan_folder`; nothing is read but the file headers)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    root = unwrap(folder)
    skipped: list[str] = []
    manifest = _find_manifest(root)
    if manifest is not None:
        entries = _entries_from_manifest(manifest)
        layout = "csv manifest"
    else:
        splits = _split_dirs(root)
        if splits:
            skipped += [p.name for p in _children(root) if p.is_file()]
            entries = []
            for split_name, split_dir in splits.items():
                entries += _entries_from_layout(split_dir, split_name, skipped)
        else:
            entries = _entries_from_layout(root, None, skipped)
        layout = "image/mask folders" if entries and entries[0].mask is not None else "class folders"
    masks = [e.mask for e in entries if e.mask is not None]
    structures = _structures_of(root, masks[0].parent if masks else None) if masks else None
    plan = plan_folder(entries, name or folder.name, seed, skipped, fit, structures)
    plan.template.source_format = layout
    return plan


def load_folder(folder: Path, name: str | None = None, seed: int = 0, fit: str = "pad") -> Dataset:
    """Load a data set folder: a CSV manifest, image/mask folders or class folders, with or without split folders.

    Images of many sizes become squares (``fit``: ``pad`` keeps their aspect, ``stretch`` fills the square).
    """
    return folder_plan(folder, name, seed, fit).dataset()
