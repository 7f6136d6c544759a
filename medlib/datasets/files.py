"""The files of a data set on disk: which are images, the folders that wrap or split them, masks matched to their
images, and the :class:`Entry` of one image before it is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from medlib.errors import DatasetError
from medlib.input.sniff import sniff_format
from medlib.targets import Finding

SPLIT_NAMES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}


def is_image_file(path: Path) -> bool:
    """Whether a file is an image that the readers know, judged by its first bytes."""
    if not path.is_file() or path.name.startswith("."):
        return False
    with open(path, "rb") as handle:
        return sniff_format(handle.read(512), path.name) not in (None, "npy")


def children(folder: Path) -> list[Path]:
    """The entries of ``folder``, sorted, hidden ones and macOS' resource folders left out."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX")))


def unwrap(root: Path) -> Path:
    """Step into a lone top-level folder (a ZIP of ``data/`` holds only ``data``).

    A lone folder that holds no sub-folder is a class or image folder itself, so it is kept,
    unless it holds a CSV manifest next to its images; so is a lone split folder (``test/``), whose name is its split.
    """
    while True:
        inside = children(root)
        lone = inside[0] if len(inside) == 1 and inside[0].is_dir() else None
        if lone is not None and lone.name.lower() not in SPLIT_NAMES and any(
            p.is_dir() or p.suffix.lower() == ".csv" for p in children(lone)
        ):
            root = lone
        else:
            return root


def images_in(folder: Path, skipped: list[str]) -> list[Path]:
    """The image files under ``folder`` (sorted, recursive); the names of other files go to ``skipped``."""
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


def match_files(images: list[Path], candidates: list[Path], what: str) -> list[Path]:
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


def split_dirs(root: Path) -> dict[str, Path]:
    """The split folders of ``root`` (``train/``, ``validation/``...) by the split they hold."""
    return {SPLIT_NAMES[p.name.lower()]: p for p in children(root) if p.is_dir() and p.name.lower() in SPLIT_NAMES}


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
    spacing: float | None = None
    """The pixel spacing (mm, square pixels) of the image as its file has it, where the data set says."""
