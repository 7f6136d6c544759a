"""The data sets a server keeps beside the app (``MEDLIB_DATA``, else ``../shared/data`` where it exists), listed
without reading their pixels, so a visitor can pick one as they would upload it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_SUFFIXES = (".zip", ".npz")
NODULE_LAYOUT = ("nodules.csv", "patches")
"""A folder holding this table and this folder is a collection of CT nodules (NODE21's layout), material for
simulated nodules, not a data set to train on."""


def server_data() -> Path:
    """The folder of data sets this server has: ``MEDLIB_DATA``, else ``../shared/data`` beside the app (which may
    not exist)."""
    return Path(os.environ.get("MEDLIB_DATA", ROOT.parent / "shared" / "data"))


@dataclass(frozen=True)
class ServerSet:
    """One data set on the server: its path, and what a listing can say of it without reading it."""

    name: str
    path: Path
    files: int
    megabytes: float

    @property
    def kind(self) -> str:
        return "folder" if self.path.is_dir() else self.path.suffix.lstrip(".")


def _size(path: Path) -> tuple[int, float]:
    """Files (a folder's, recursively; an archive is one) and megabytes, from the directory alone."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files) / 1e6


def server_sets(root: Path | None = None) -> list[ServerSet]:
    """The data sets in ``root`` (default :func:`server_data`): its folders and its ``.zip`` and ``.npz`` files, by
    name; none where the folder does not exist. Collections of CT nodules are left out (see
    :data:`NODULE_LAYOUT`)."""
    root = server_data() if root is None else root
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or (path.is_file() and path.suffix.lower() not in DATA_SUFFIXES):
            continue
        if path.is_dir() and all((path / part).exists() for part in NODULE_LAYOUT):
            continue
        found.append(ServerSet(path.name, path, *_size(path)))
    return found
