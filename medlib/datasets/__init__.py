"""Data sets: load MedMNIST ``.npz``, folders, ZIPs and CSV manifests, or the built-in phantom.

>>> ds = load_dataset("phantom", n=6, size=32)
>>> ds.task, len(ds)
('classification', 6)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from medlib.datasets.archive import extract_zip
from medlib.datasets.assemble import FITS
from medlib.datasets.dataset import SPLITS, Dataset
from medlib.datasets.folders import load_folder
from medlib.datasets.npz import load_npz
from medlib.errors import DatasetError
from medlib.readers import read_bytes

__all__ = ["FITS", "SPLITS", "Dataset", "load_dataset", "load_upload"]

PHANTOM_WORD = "phantom"


def load_upload(data: bytes, name: str, seed: int = 0, fit: str = "pad") -> Dataset:
    """Load a data set from uploaded bytes: an ``.npz`` or a ``.zip`` (class folders, image/mask folders or CSV).

    ``fit``: how images of many sizes become squares (``pad`` keeps the aspect, ``stretch`` fills).
    """
    lower = name.lower()
    if not data:
        raise DatasetError(f"{name} is empty (0 bytes); upload the file again")
    if lower.endswith(".npz"):
        return load_npz(data, name)
    if lower.endswith(".zip") or data[:4] == b"PK\x03\x04":
        with tempfile.TemporaryDirectory(prefix="medlib-zip-") as folder:
            skipped = extract_zip(data, Path(folder))
            dataset = load_folder(Path(folder), name=Path(name).stem, seed=seed, fit=fit)
        if skipped:
            dataset.notes.append("skipped archive entries: " + "; ".join(skipped[:5]))
        dataset.source_format = f"zip ({dataset.source_format})"
        return dataset
    if lower.endswith(".csv"):
        raise DatasetError("a CSV manifest names image files: upload it inside a ZIP together with the images")
    raise DatasetError(f"{name} is not a data set: upload a .zip (folders or CSV manifest) or a MedMNIST-style .npz")


def load_dataset(source: str | os.PathLike[str], seed: int = 0, n: int = 300, size: int = 128,
                 fit: str = "pad") -> Dataset:
    """Load a data set from a path (folder, ``.zip``, ``.npz``) or the word ``phantom``.

    ``n`` and ``size`` apply to the phantom only; ``seed`` fixes the split
    where the data set brings none; ``fit`` says how images of many sizes become squares.
    """
    if str(source) == PHANTOM_WORD:
        from medlib.phantom import make_phantom

        return make_phantom(n=n, size=size, seed=seed)
    path = Path(source)
    if path.is_dir():
        return load_folder(path, seed=seed, fit=fit)
    if not path.exists():
        raise DatasetError(f"{path} does not exist; give a folder, a .zip, a .npz or the word 'phantom'")
    data, name = read_bytes(path, cap="max_archive_mb")
    return load_upload(data, name, seed=seed, fit=fit)
