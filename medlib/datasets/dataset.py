"""The in-memory data set: images with class labels or masks, and their splits."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from medlib.errors import DatasetError
from medlib.targets import ONE_STRUCTURE, Finding

SPLITS = ("train", "val", "test")


@dataclass
class Dataset:
    """Images of one size, with labels (classification) and/or masks (segmentation).

    ``images`` is (N, H, W, C) with the values as read, in the type they are stored in (uint8, uint16, int16
    or float32: an 8-bit set takes one byte a pixel; C is 1 or 3);
    ``labels`` (N,) int64 indexes ``class_names``; ``masks`` and ``fov`` are
    (N, H, W) uint8 in {0, 1}; ``split`` holds ``train``/``val``/``test`` per image.
    """

    name: str
    images: np.ndarray
    split: np.ndarray
    ids: list[str]
    labels: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)
    masks: np.ndarray | None = None
    fov: np.ndarray | None = None
    groups: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    synthetic: bool = False
    source_format: str = ""
    fit: str = "as read"
    """How the images were brought to one size (see :class:`medlib.datasets.assemble.CommonSize`)."""
    source_sizes: list[tuple[int, int]] | None = None
    """Each image's (height, width) as its file had it, where that differs from ``image_size`` or is known."""
    precomputed: dict[str, Any] = field(default_factory=dict)
    """Facts of a set read from disk (:mod:`medlib.datasets.cache`), computed when it was written so that they
    need not read every image: ``fingerprint``, ``value_range``, ``mask_not_empty`` (per image) and ``cache``."""
    structures: list[str] = field(default_factory=list)
    """The names of the label maps' values 1..K in ``masks`` (:class:`medlib.targets.Structures`); a set with
    masks and no names has the one structure ``foreground``."""
    findings: list[list[Finding]] | None = None
    """Each image's located findings (points or boxes, in pixels of the stored image), where the set has them."""
    spacing: tuple[float, float] | None = None
    """The stored images' pixel spacing in mm (row, column), the median of the files', where they give one."""

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 4 or self.images.shape[-1] not in (1, 3):
            raise DatasetError(f"images must be (N, H, W, 1|3), got shape {self.images.shape}")
        checks = {"split": self.split, "ids": self.ids, "labels": self.labels, "masks": self.masks, "fov": self.fov,
                  "findings": self.findings}
        for what, values in checks.items():
            if values is not None and len(values) != n:
                raise DatasetError(f"{what} has {len(values)} entries for {n} images")
        if self.labels is None and self.masks is None:
            raise DatasetError("a data set needs class labels or masks; found neither")
        if self.masks is not None and not self.structures:
            self.structures = [ONE_STRUCTURE]
        if self.labels is not None and len(self.class_names) < 2:
            raise DatasetError(
                f"only one class found ({self.class_names}): a classifier needs at least two; "
                "add images of another class"
            )
        unknown = set(np.unique(self.split).tolist()) - set(SPLITS)
        if unknown:
            raise DatasetError(f"unknown split names {sorted(unknown)}; use train, val and test")

    @property
    def task(self) -> str:
        """``classification`` when there are labels, else ``segmentation``."""
        return "classification" if self.labels is not None else "segmentation"

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def streamed(self) -> bool:
        """Whether the images are read from disk as they are needed (a cache), not held in memory."""
        return not isinstance(self.images, np.ndarray)

    @property
    def channels(self) -> int:
        return int(self.images.shape[3])

    def __len__(self) -> int:
        return len(self.images)

    def indices(self, split: str) -> np.ndarray:
        """Positions of the images in ``split``."""
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return np.flatnonzero(self.split == split)

    def subset(self, split: str) -> Dataset:
        """A new data set holding only ``split`` (arrays are copied)."""
        index = self.indices(split)
        if index.size == 0:
            raise DatasetError(f"the {split} split of {self.name!r} is empty")
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return Dataset(
            name=f"{self.name} [{split}]",
            images=self.images[index],
            split=self.split[index],
            ids=[self.ids[i] for i in index],
            labels=pick(self.labels),
            class_names=list(self.class_names),
            masks=pick(self.masks),
            fov=pick(self.fov),
            groups=None if self.groups is None else [self.groups[i] for i in index],
            notes=list(self.notes),
            synthetic=self.synthetic,
            source_format=self.source_format,
            fit=self.fit,
            source_sizes=None if self.source_sizes is None else [self.source_sizes[i] for i in index],
            structures=list(self.structures),
            findings=None if self.findings is None else [self.findings[i] for i in index],
            spacing=self.spacing,
        )

    @cached_property
    def fingerprint(self) -> str:
        """A content hash (16 hex digits) of images, labels, masks and splits, computed once (every page's run
        shows it, and hashing 4,712 real films takes 0.16 s; a set's arrays are not changed in place)."""
        if "fingerprint" in self.precomputed:
            return str(self.precomputed["fingerprint"])
        return data_digest(self.images.shape, self.class_names, self.images, self.labels, self.masks, self.fov,
                           self.split, self.targets_key())

    def targets_key(self) -> str:
        """What the fingerprint adds for named structures and findings (nothing for a set without them, so the
        fingerprint of a plain set is what it always was)."""
        named = self.structures not in ([], [ONE_STRUCTURE])
        if not named and self.findings is None:
            return ""
        return json.dumps([self.structures if named else [],
                           None if self.findings is None else [[f.to_dict() for f in row] for row in self.findings]])

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per split and class (for segmentation: images whose mask is empty or not)."""
        out: dict[str, dict[str, int]] = {}
        for split in SPLITS:
            index = self.indices(split)
            if self.labels is not None:
                tally = Counter(self.labels[index].tolist())
                out[split] = {name: int(tally.get(k, 0)) for k, name in enumerate(self.class_names)}
            else:
                assert self.masks is not None
                known = self.precomputed.get("mask_not_empty")
                positive = int(np.asarray(known)[index].sum()) if known is not None else \
                    int(self.masks[index].any(axis=(1, 2)).sum())
                out[split] = {"mask not empty": positive, "mask empty": int(len(index) - positive)}
        return out

    def summary(self) -> dict[str, Any]:
        """What ``python -m medlib info`` prints of the set itself."""
        return {
            "name": self.name,
            "task": self.task,
            "synthetic": self.synthetic,
            "format": self.source_format,
            "images": len(self),
            "splits": {s: int(self.indices(s).size) for s in SPLITS},
            "counts": self.counts(),
            "classes": list(self.class_names),
            "image_size": list(self.image_size),
            "fit": self.fit,
            "dtype": str(self.images.dtype),
            "channels": self.channels,
            "masks": self.masks is not None,
            "dimensions": 2,
            "structures": list(self.structures),
            "findings": self.findings_summary(),
            "spacing": None if self.spacing is None else [round(float(v), 4) for v in self.spacing],
            "fov_masks": self.fov is not None,
            "value_range": self.value_range(),
            "fingerprint": self.fingerprint,
            "notes": list(self.notes),
        }

    def finding_labels(self) -> list[str]:
        """The distinct labels of the set's located findings, in the order first seen (what a locating model's maps
        name)."""
        seen: dict[str, None] = {}
        for found in self.findings or []:
            for finding in found:
                seen.setdefault(finding.label, None)
        return list(seen)

    def findings_summary(self) -> dict[str, Any]:
        """How many located findings the set holds, of which kinds and labels, on how many images."""
        rows = self.findings or []
        every = [f for row in rows for f in row]
        return {"count": len(every), "images": sum(1 for row in rows if row),
                "kinds": dict(Counter(f.kind for f in every)), "labels": dict(Counter(f.label for f in every))}

    def value_range(self) -> list[float]:
        """The smallest and largest pixel value."""
        if "value_range" in self.precomputed:
            return [float(v) for v in self.precomputed["value_range"]]
        return [float(self.images.min()), float(self.images.max())] if len(self) else [0.0, 0.0]


def data_digest(shape: Sequence[int], class_names: Sequence[str], images: np.ndarray | Iterable[np.ndarray],
                labels: np.ndarray | None, masks: np.ndarray | Iterable[np.ndarray] | None,
                fov: np.ndarray | Iterable[np.ndarray] | None, split: np.ndarray, targets: str = "") -> str:
    """The fingerprint of a data set's parts (16 hex digits); images, masks and fields of view may come as one
    array or as consecutive chunks of it (the same bytes give the same hash)."""
    digest = hashlib.sha256()
    digest.update(repr((tuple(shape), list(class_names))).encode())
    for part in (images, labels, masks, fov):
        for piece in ([] if part is None else [part] if isinstance(part, np.ndarray) else part):
            digest.update(memoryview(np.ascontiguousarray(piece)).cast("B"))  # no copy of the pixels
    digest.update("\n".join(np.asarray(split).tolist()).encode())
    digest.update(targets.encode())
    return digest.hexdigest()[:16]


def placeholder(shape: tuple[int, ...]) -> np.ndarray:
    """A read-only uint8 array of ``shape`` that takes no memory (zeros), for a data set whose pixels are
    not read yet."""
    return np.broadcast_to(np.zeros((), np.uint8), shape)


_ARRAYS = ("images", "split", "labels", "masks", "fov")


def share_dataset(dataset: Dataset, folder: Path) -> Path:
    """Write ``dataset`` into ``folder`` (one ``.npy`` file per array and ``dataset.json``) for another process to
    map with :func:`open_shared_dataset` instead of receiving a pickled copy of every pixel."""
    folder.mkdir(parents=True, exist_ok=True)
    rest = {}
    for item in fields(dataset):
        value = getattr(dataset, item.name)
        if item.name in _ARRAYS:
            if value is not None:
                np.save(folder / f"{item.name}.npy", value, allow_pickle=False)
        else:
            rest[item.name] = value
    (folder / "dataset.json").write_text(json.dumps(plain_fields(rest)), encoding="utf-8")
    return folder


def open_shared_dataset(folder: Path) -> Dataset:
    """The data set :func:`share_dataset` wrote, its arrays memory-mapped read-only (the pages stay in the
    operating system's file cache, shared, not copied into this process)."""
    rest = typed_fields(json.loads((folder / "dataset.json").read_text(encoding="utf-8")))
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
              for name in _ARRAYS if (folder / f"{name}.npy").is_file()}
    return Dataset(**rest, **arrays)


def plain_fields(rest: dict[str, Any]) -> dict[str, Any]:
    """A data set's fields other than its arrays, ready for JSON (findings as dicts)."""
    findings = rest.get("findings")
    return rest | {"findings": None if findings is None else [[f.to_dict() for f in row] for row in findings]}


def typed_fields(rest: dict[str, Any]) -> dict[str, Any]:
    """The fields :func:`plain_fields` wrote, typed again."""
    rest = dict(rest)
    if rest.get("source_sizes") is not None:
        rest["source_sizes"] = [tuple(size) for size in rest["source_sizes"]]
    if rest.get("findings") is not None:
        rest["findings"] = [[Finding.from_dict(f) for f in row] for row in rest["findings"]]
    if rest.get("spacing") is not None:
        rest["spacing"] = tuple(rest["spacing"])
    return rest
