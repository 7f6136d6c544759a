"""A data set of files planned from their headers before any pixel is read (:class:`FolderPlan`), then read whole
or a shard at a time, each image brought to the set's one size as it is read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from medlib.datasets.assemble import CommonSize, ImageStack, fit_mask, plan_size, read_frame, read_mask
from medlib.datasets.cache import Chunk, shard_size
from medlib.datasets.dataset import Dataset, placeholder
from medlib.datasets.files import Entry
from medlib.datasets.split import assign_splits
from medlib.errors import DatasetError
from medlib.input.header import image_header
from medlib.targets import Finding, Structures, class_order, move_findings


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


def _read_masks(paths: list[Path | None], sizes: list[tuple[int, int]], geometry: CommonSize,
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
    geometry: CommonSize
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


def _placed_findings(entries: list[Entry], sizes: list[tuple[int, int]], geometry: CommonSize) -> list[list[Finding]]:
    """Each entry's findings moved as its image is brought to ``geometry`` (by the fit's own record)."""
    out = []
    for entry, size in zip(entries, sizes, strict=True):
        record = geometry.record(size)
        for finding in entry.findings or []:
            finding.check_inside(size, entry.where or entry.image.name)
        out.append(move_findings(entry.findings or [], record, size))
    return out


def _spacing(entries: list[Entry], sizes: list[tuple[int, int]], geometry: CommonSize) -> tuple[float, float] | None:
    """The stored images' pixel spacing (mm): the median of the entries that give one, divided by how much their
    image grew on the way to ``geometry``."""
    known = [e.spacing / geometry.record(size).factor() for e, size in zip(entries, sizes, strict=True) if e.spacing]
    if not known:
        return None
    median = round(float(np.median(known)), 4)
    return median, median


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
        class_names = class_order({str(e.label) for e in entries})
        labels = np.array([class_names.index(str(e.label)) for e in entries], dtype=np.int64)

    headers = _sizes(entries)
    geometry, note = plan_size([(h, w) for h, w, _ in headers], fit)
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
        spacing=_spacing(entries, [(h, w) for h, w, _ in headers], geometry),
        findings=_placed_findings(entries, [(h, w) for h, w, _ in headers], geometry)
        if any(e.findings is not None for e in entries) else None,
    )
    return FolderPlan(entries, geometry, channels, template, structures)

