"""Data sets larger than memory: written once to a folder of ``.npy`` shards, then read image by image as needed.

``python -m medlib cache DATA --out DIR`` reads a data set (a folder, a ZIP, an ``.npz`` or the phantom) a shard
at a time and writes its images, masks and fields of view as shards of about :data:`SHARD_BYTES`, in the type
they are stored in, beside ``cache.json`` (labels, splits, ids, patients, notes, the fingerprint). Loading ``DIR``
gives a :class:`~medlib.datasets.Dataset` whose arrays are :class:`ShardedArray` objects: nothing is read until
an image is asked for, and then only that image, by a positional read (no memory map, so the pages stay in the
operating system's file cache and out of the process's memory). Training reads, preprocesses and augments the
images in parallel on tf.data's threads while the model trains (:func:`medlib.training.inputs.make_inputs`).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from medlib.datasets.assemble import wider_type
from medlib.datasets.dataset import Dataset, data_digest, plain_fields, typed_fields
from medlib.errors import DatasetError
from medlib.limits import limit

CACHE_FILE = "cache.json"
CACHE_VERSION = 1
SHARD_BYTES = 64 << 20
"""About how much one shard holds, counted as float32 (the widest type an image is read in): 256 films of
256×256 a shard, 16 of 1,024×1,024. A set is read and written a shard at a time."""


def shard_size(item_shape: tuple[int, ...]) -> int:
    """Images per shard for images of ``item_shape`` (a shard also fits in the memory budget for a data set).

    >>> shard_size((256, 256, 1)), shard_size((4096, 4096, 3))
    (256, 1)
    """
    return max(1, min(SHARD_BYTES, limit("max_dataset_mb")) // (4 * int(np.prod(item_shape))))

_PIXELS = ("images", "masks", "fov")


class ShardedArray:
    """An (N, ...) array kept as ``.npy`` shard files and read item by item with positional reads.

    It answers ``shape``, ``dtype``, ``ndim`` and ``len`` without reading pixels; ``array[i]`` reads one item,
    ``array[index]`` (a slice, a list or an integer array, optionally followed by more indices, as in
    ``array[index, ..., 0]``) reads those items into a new in-memory array. Shards stored in a narrower type than
    the widest are widened as they are read. The files are opened per process (it pickles as its paths).
    """

    def __init__(self, paths: list[Path], dtype: np.dtype | str) -> None:
        self.paths, self.dtype = [Path(p) for p in paths], np.dtype(dtype)
        self._layout = [_npy_layout(p) for p in self.paths]
        shapes = {shape[1:] for _, shape, _ in self._layout}
        if len(shapes) != 1:
            raise DatasetError(f"the cache's shards disagree on the item shape: {sorted(shapes)}; write it again")
        self.item_shape: tuple[int, ...] = shapes.pop()
        self._ends = np.cumsum([shape[0] for _, shape, _ in self._layout])
        self._files: dict[int, int] = {}
        self._lock = threading.Lock()

    @property
    def shape(self) -> tuple[int, ...]:
        return (int(self._ends[-1]) if len(self._ends) else 0, *self.item_shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict[str, Any]:
        return {"paths": self.paths, "dtype": self.dtype.str}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["paths"], state["dtype"])

    def _descriptor(self, shard: int) -> int:
        with self._lock:
            if shard not in self._files:
                self._files[shard] = os.open(self.paths[shard], os.O_RDONLY)
            return self._files[shard]

    def item(self, i: int) -> np.ndarray:
        """Item ``i`` (negative counts from the end), read from its shard."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {n} items")
        i %= n
        shard = int(np.searchsorted(self._ends, i, side="right"))
        offset, shape, dtype = self._layout[shard]
        row = i - (int(self._ends[shard - 1]) if shard else 0)
        size = int(np.prod(shape[1:])) * dtype.itemsize
        raw = os.pread(self._descriptor(shard), size, offset + row * size)
        return np.frombuffer(raw, dtype).reshape(shape[1:]).astype(self.dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(first, (int, np.integer)):
            item = self.item(int(first))
            return item[rest] if rest else item
        if isinstance(first, slice):
            picks = np.arange(len(self))[first]
        else:
            picks = np.asarray(first)
            if picks.dtype == bool:
                picks = np.flatnonzero(picks)
        items = np.empty((picks.size, *self.item_shape), self.dtype)
        for k, i in enumerate(picks.ravel().tolist()):
            items[k] = self.item(i)
        return items[(slice(None), *rest)] if rest else items

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def chunks(self, size: int | None = None) -> Iterator[np.ndarray]:
        """The items in order, ``size`` at a time (by default a shard's worth, :func:`shard_size`)."""
        size = size or shard_size(self.item_shape)
        for start in range(0, len(self), size):
            yield self[start : start + size]

    def close(self) -> None:
        with self._lock:
            for descriptor in self._files.values():
                os.close(descriptor)
            self._files.clear()

    def __del__(self) -> None:
        self.close()


def _npy_layout(path: Path) -> tuple[int, tuple[int, ...], np.dtype]:
    """Where an ``.npy`` file's data begins, its shape and type (read from its header, no data)."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        if fortran:
            raise DatasetError(f"{path.name} is stored in Fortran order; write the cache again")
        return handle.tell(), tuple(shape), np.dtype(dtype)


@dataclass
class Chunk:
    """Consecutive images of a data set (and their masks and fields of view, where the set has them)."""

    images: np.ndarray
    masks: np.ndarray | None = None
    fov: np.ndarray | None = None


def is_cache(path: Path) -> bool:
    """Whether ``path`` is a folder written by :func:`write_cache`."""
    return (Path(path) / CACHE_FILE).is_file()


def write_cache(template: Dataset, chunks: Iterable[Chunk], out: Path,
                report: Callable[[int], None] | None = None) -> Path:
    """Write a data set to ``out`` as shards: the images, masks and fields of view come from ``chunks`` (in
    order), everything else from ``template`` (a :class:`Dataset` whose arrays may be placeholders of the right
    length). The folder appears whole or not at all (written beside, then renamed); ``report`` gets the number
    of images written so far."""
    out = Path(out)
    if out.exists():
        raise DatasetError(f"{out} already exists; choose another --out or remove it")
    scratch = out.with_name(f".{out.name}.part-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        shards: dict[str, list[str]] = {name: [] for name in _PIXELS}
        dtypes: dict[str, np.dtype] = {}
        low, high, written, not_empty = np.inf, -np.inf, 0, []
        for k, chunk in enumerate(chunks):
            for name in _PIXELS:
                part = getattr(chunk, name)
                if part is None:
                    continue
                file = f"{name}-{k:05d}.npy"
                np.save(scratch / file, np.ascontiguousarray(part), allow_pickle=False)
                shards[name].append(file)
                dtypes[name] = wider_type(dtypes.get(name, part.dtype), part.dtype)
            if len(chunk.images):
                low, high = min(low, float(chunk.images.min())), max(high, float(chunk.images.max()))
            if chunk.masks is not None:
                not_empty += chunk.masks.reshape(len(chunk.masks), -1).any(axis=1).astype(int).tolist()
            written += len(chunk.images)
            if report is not None:
                report(written)
        if written != len(template.split):
            raise DatasetError(f"the chunks hold {written} images for {len(template.split)} entries")
        arrays = {name: ShardedArray([scratch / f for f in files], dtypes[name])
                  for name, files in shards.items() if files}
        digest = data_digest(arrays["images"].shape, template.class_names, arrays["images"].chunks(),
                             template.labels, arrays["masks"].chunks() if "masks" in arrays else None,
                             arrays["fov"].chunks() if "fov" in arrays else None, template.split,
                             template.targets_key())
        for array in arrays.values():
            array.close()
        rest = {f.name: getattr(template, f.name) for f in fields(template)
                if f.name not in (*_PIXELS, "labels", "split", "precomputed")}
        meta = {"version": CACHE_VERSION, "dataset": plain_fields(rest),
                "dtypes": {k: v.str for k, v in dtypes.items()},
                "shards": {k: v for k, v in shards.items() if v},
                "facts": {"fingerprint": digest, "value_range": [low, high] if written else [0.0, 0.0],
                          "mask_not_empty": not_empty if "masks" in arrays else None}}
        np.save(scratch / "split.npy", np.asarray(template.split, str), allow_pickle=False)
        if template.labels is not None:
            np.save(scratch / "labels.npy", np.asarray(template.labels, np.int64), allow_pickle=False)
        (scratch / CACHE_FILE).write_text(json.dumps(meta), encoding="utf-8")
        os.replace(scratch, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return out


def open_cache(folder: Path) -> Dataset:
    """The data set written by :func:`write_cache`, its images read from disk only when asked for."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{folder} is not a readable medlib cache ({exc}); write it again with "
                           "python -m medlib cache") from exc
    if meta.get("version") != CACHE_VERSION:
        raise DatasetError(f"{folder} was written by another version of medlib cache; write it again")
    rest = typed_fields(meta["dataset"])
    arrays = {name: ShardedArray([folder / f for f in files], meta["dtypes"][name])
              for name, files in meta["shards"].items()}
    labels = np.load(folder / "labels.npy") if (folder / "labels.npy").is_file() else None
    facts = dict(meta["facts"], cache=str(folder))
    return Dataset(**rest, **arrays, labels=labels, split=np.load(folder / "split.npy"), precomputed=facts)


def dataset_chunks(dataset: Dataset, size: int | None = None) -> Iterator[Chunk]:
    """An in-memory data set, ``size`` images at a time (by default a shard's worth, :func:`shard_size`)."""
    size = size or shard_size(dataset.images.shape[1:])
    for start in range(0, len(dataset), size):
        part = slice(start, start + size)
        yield Chunk(dataset.images[part], None if dataset.masks is None else dataset.masks[part],
                    None if dataset.fov is None else dataset.fov[part])
