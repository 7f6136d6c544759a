"""The class-folder layout: one sub-folder per class (``NORMAL/``, ``PNEUMONIA/``), its name the images' label."""

from __future__ import annotations

from pathlib import Path

from medlib.datasets.files import Entry, children, images_in


def class_folder_entries(folder: Path, split: str | None, skipped: list[str]) -> list[Entry]:
    """Each image of each sub-folder, labelled with the sub-folder's name; loose files go to ``skipped``."""
    entries = []
    for class_dir in (p for p in children(folder) if p.is_dir()):
        entries += [Entry(i, label=class_dir.name, split=split) for i in images_in(class_dir, skipped)]
    skipped += [p.name for p in children(folder) if p.is_file()]
    return entries
