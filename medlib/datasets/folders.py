"""Data sets laid out as folders of files: the registered layouts, tried in order on a folder (or on each of its
split folders), behind :func:`folder_plan` and :func:`load_folder`.

- ``csv manifest`` (:mod:`medlib.datasets.manifest`): a CSV names the images and their targets;
- ``image/mask folders`` (:mod:`medlib.datasets.mask_folders`): images with label maps (named by a
  ``labels.json``), and optionally fields of view;
- ``class folders`` (:mod:`medlib.datasets.class_folders`): one sub-folder per class.

Volumes (a Decathlon task or NIfTI image/label folders, :mod:`medlib.datasets.decathlon`) and caches
(:mod:`medlib.datasets.cache`) are recognised before these, by :func:`medlib.datasets.load_dataset`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medlib.datasets.class_folders import class_folder_entries
from medlib.datasets.dataset import Dataset
from medlib.datasets.file_plan import FolderPlan, plan_folder
from medlib.datasets.files import Entry, children, split_dirs, unwrap
from medlib.datasets.manifest import find_manifest, manifest_entries
from medlib.datasets.mask_folders import has_mask_folders, mask_folder_entries
from medlib.errors import DatasetError
from medlib.targets import LABELS_FILE, Structures


@dataclass(frozen=True)
class Layout:
    """One way a folder of files may be laid out: how to recognise it, and its entries."""

    name: str
    found: Callable[[Path], bool]
    entries: Callable[[Path, str | None, list[str]], list[Entry]]
    splits_inside: bool = True
    """Whether the layout may sit in split folders (``train/``, ``test/``); a manifest names its own splits."""


LAYOUTS: tuple[Layout, ...] = (
    Layout("csv manifest", lambda root: find_manifest(root) is not None, manifest_entries, splits_inside=False),
    Layout("image/mask folders", has_mask_folders, mask_folder_entries),
    Layout("class folders", lambda root: True, class_folder_entries),
)


def _layout_of(folder: Path, inside_split: bool = False) -> Layout:
    return next(layout for layout in LAYOUTS if (layout.splits_inside or not inside_split) and layout.found(folder))


def _structures_of(root: Path, mask_dir: Path | None) -> Structures | None:
    """The names of the masks' values, from a ``labels.json`` in the data set's folder or its mask folder."""
    for folder in (root, mask_dir):
        if folder is not None and (folder / LABELS_FILE).is_file():
            return Structures.read(folder / LABELS_FILE)
    return None


def folder_plan(folder: Path, name: str | None = None, seed: int = 0, fit: str = "pad") -> FolderPlan:
    """Plan the data set of a folder laid out as one of :data:`LAYOUTS`, with or without split folders
    (:func:`plan_folder`; nothing is read but the file headers)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    root = unwrap(folder)
    skipped: list[str] = []
    layout = _layout_of(root)
    splits = split_dirs(root) if layout.splits_inside else {}
    if splits:
        skipped += [p.name for p in children(root) if p.is_file()]
        entries = []
        for split_name, split_dir in splits.items():
            layout = _layout_of(split_dir, inside_split=True)
            entries += layout.entries(split_dir, split_name, skipped)
    else:
        entries = layout.entries(root, None, skipped)
    masks = [e.mask for e in entries if e.mask is not None]
    structures = _structures_of(root, masks[0].parent if masks else None) if masks else None
    plan = plan_folder(entries, name or folder.name, seed, skipped, fit, structures)
    plan.template.source_format = layout.name
    return plan


def load_folder(folder: Path, name: str | None = None, seed: int = 0, fit: str = "pad") -> Dataset:
    """Load a data set folder laid out as one of :data:`LAYOUTS`, with or without split folders.

    Images of many sizes become squares (``fit``: ``pad`` keeps their aspect, ``stretch`` fills the square).
    """
    return folder_plan(folder, name, seed, fit).dataset()
