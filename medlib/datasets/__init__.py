"""Data sets: load MedMNIST ``.npz``, folders, ZIPs and CSV manifests, or the built-in phantom.

>>> ds = load_dataset("phantom", n=6, size=32)
>>> ds.task, len(ds)
('classification', 6)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from medlib.datasets.archive import extract_zip
from medlib.datasets.assemble import FITS
from medlib.datasets.cache import dataset_chunks, is_cache, open_cache, write_cache
from medlib.datasets.dataset import SPLITS, Dataset
from medlib.datasets.decathlon import is_volume_folder, load_volume_folder
from medlib.datasets.file_plan import FolderPlan
from medlib.datasets.files import unwrap
from medlib.datasets.folders import folder_plan, load_folder
from medlib.datasets.npz import load_npz
from medlib.datasets.volumes import VolumeSet
from medlib.errors import DatasetError, DatasetTooLargeError
from medlib.input import read_bytes
from medlib.limits import available_cpus

__all__ = ["FITS", "SPLITS", "Dataset", "VolumeSet", "cache_dataset", "load_dataset", "load_images", "load_or_cache",
           "load_upload", "planar", "training_cache"]

PHANTOM_WORD = "phantom"


@contextmanager
def _unzipped(data: bytes, name: str, seed: int, fit: str, scratch: Path | None = None) -> Iterator[FolderPlan]:
    """The plan of the data set in a ZIP (:func:`medlib.datasets.folders.folder_plan`), unpacked into a temporary
    folder (under ``scratch``) that lasts as long as the ``with`` block that reads it."""
    with tempfile.TemporaryDirectory(prefix="medlib-zip-", dir=scratch) as folder:
        skipped = extract_zip(data, Path(folder))
        del data  # the files are on disk now: a caller that holds no other reference frees the archive's bytes
        plan = folder_plan(Path(folder), name=Path(name).stem, seed=seed, fit=fit)
        plan.template.source_format = f"zip ({plan.template.source_format})"
        if skipped:
            plan.template.notes.append("skipped archive entries: " + "; ".join(skipped[:5]))
        yield plan


def load_upload(data: bytes, name: str, seed: int = 0, fit: str = "pad") -> Dataset | VolumeSet:
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
            extract_zip(data, Path(folder))
            if is_volume_folder(unwrap(Path(folder))):
                volumes = load_volume_folder(unwrap(Path(folder)), seed)
                volumes.name, volumes.source_format = Path(name).stem, f"zip ({volumes.source_format})"
                return volumes
        with _unzipped(data, name, seed, fit) as plan:
            return plan.dataset()
    if lower.endswith(".csv"):
        raise DatasetError("a CSV manifest names image files: upload it inside a ZIP together with the images")
    raise DatasetError(f"{name} is not a data set: upload a .zip (folders or CSV manifest) or a MedMNIST-style .npz")


def load_dataset(source: str | os.PathLike[str], seed: int = 0, n: int = 300, size: int = 128,
                 fit: str = "pad") -> Dataset | VolumeSet:
    """Load a data set from a path (folder, ``.zip``, ``.npz``, a cache written by :func:`cache_dataset`) or the
    word ``phantom``.

    A Decathlon task folder or NIfTI image/label folders give a :class:`VolumeSet` (3-D samples).
    ``n`` and ``size`` apply to the phantom only; ``seed`` fixes the split
    where the data set brings none; ``fit`` says how images of many sizes become squares. A cache is not read
    into memory: its images are read from disk as they are needed.
    """
    if str(source) == PHANTOM_WORD:
        from medlib.datasets.phantom import make_phantom

        return make_phantom(n=n, size=size, seed=seed)
    path = Path(source)
    if is_cache(path):
        return open_cache(path)
    if path.is_dir() and is_volume_folder(unwrap(path)):
        return load_volume_folder(unwrap(path), seed=seed)
    if path.is_dir():
        return load_folder(path, seed=seed, fit=fit)
    if not path.exists():
        raise DatasetError(f"{path} does not exist; give a folder, a .zip, a .npz or the word 'phantom'")
    data, name = read_bytes(path, cap="max_archive_mb")
    return load_upload(data, name, seed=seed, fit=fit)


def planar(dataset: Dataset | VolumeSet, what: str) -> Dataset:
    """``dataset`` where it is a set of 2-D images; a 3-D set raises saying that ``what`` takes 2-D images."""
    if isinstance(dataset, VolumeSet):
        raise DatasetError(f"{dataset.name} is a 3-D set of {len(dataset)} volumes ({dataset.source_format}); "
                           f"{what} takes 2-D images, and medlib has no 3-D model yet: `medlib info` describes the "
                           "volumes")
    return dataset


def load_images(source: str | os.PathLike[str], what: str, seed: int = 0, fit: str = "pad") -> Dataset:
    """:func:`load_dataset` for a step that takes 2-D images (``what`` names it in the error a 3-D set gets)."""
    return planar(load_dataset(source, seed=seed, fit=fit), what)


def training_cache(source: str | os.PathLike[str]) -> Path:
    """Where :func:`load_or_cache` writes the cache of a folder or ZIP too large for memory: beside it, named
    after it (``films/`` gives ``films.medlib-cache/``)."""
    path = Path(source)
    return path.with_name(f"{path.name.removesuffix('.zip')}.medlib-cache")


def load_or_cache(source: str | os.PathLike[str], seed: int = 0, fit: str = "pad", cache: Path | None = None,
                  report: Callable[[int, int, Path], None] | None = None) -> Dataset | VolumeSet:
    """:func:`load_dataset`, except that a folder or ZIP of images too large for the memory budget is written as a
    cache first (to ``cache``, by default :func:`training_cache`; one found there is used again) and read from
    disk. ``report`` gets the images written so far, their total and the folder."""
    try:
        return load_dataset(source, seed=seed, fit=fit)
    except DatasetTooLargeError:
        path = Path(source)
        if not (path.is_dir() or path.suffix.lower() == ".zip"):
            raise
        folder = Path(cache) if cache is not None else training_cache(path)
        if not is_cache(folder):
            total = len(folder_plan(path, seed=seed, fit=fit).entries) if path.is_dir() else 0
            cache_dataset(path, folder, seed=seed, fit=fit,
                          report=None if report is None else lambda done: report(done, total, folder))
        dataset = open_cache(folder)
        dataset.notes.append(f"too large for memory: cached to {folder} and read from disk")
        return dataset


def cache_dataset(source: str | os.PathLike[str], out: str | os.PathLike[str], seed: int = 0, n: int = 300,
                  size: int = 128, fit: str = "pad", report: Callable[[int], None] | None = None) -> Path:
    """Write a data set to the folder ``out`` as a cache (:mod:`medlib.datasets.cache`) that trains from disk.

    A folder (or a ZIP, unpacked beside ``out`` first) and the phantom are read a shard at a time, so the set
    may be larger than memory; an ``.npz`` is read whole. ``report`` gets the number of images written so far.
    """
    out = Path(out)
    if str(source) == PHANTOM_WORD:
        from medlib.datasets.phantom import phantom_chunks

        template, chunks = phantom_chunks(n, size, seed, workers=available_cpus() if n >= 1000 else 1)
        return write_cache(template, chunks, out, report)
    path = Path(source)
    if path.is_dir() and not is_cache(path):
        plan = folder_plan(path, seed=seed, fit=fit)
        return write_cache(plan.template, plan.chunks(), out, report)
    if path.suffix.lower() == ".zip":
        with _unzipped(*read_bytes(path, cap="max_archive_mb"), seed, fit,
                       scratch=out.parent if out.parent.is_dir() else None) as plan:
            return write_cache(plan.template, plan.chunks(), out, report)
    dataset = load_images(path, "medlib cache", seed=seed, fit=fit)
    return write_cache(dataset, dataset_chunks(dataset), out, report)
