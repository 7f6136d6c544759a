"""Several data sets as one for a run: each brought to the first one's image size, their structures and classes
matched by name. A set that does not label a structure of another has it marked unknown on its label maps
(:mod:`medlib.datasets.partial`), so the run learns it only where it is labelled; a set of lung fields joins one that
labels each lung by splitting its fields by side. Joined as a shared set (``train_only``), a set's images join the
training split only: the first set's held-back images stay the only ones that judge the run.

>>> from medlib.datasets.phantom import make_phantom
>>> joined = with_shared(make_phantom(6, size=64, seed=1), make_phantom(4, size=32, seed=2))
>>> len(joined), joined.image_size, sorted(set(joined.split[6:].tolist()))
(10, (64, 64), ['train'])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np

from medlib.datasets.dataset import Dataset
from medlib.datasets.partial import LUNG_FIELDS, mark_unknown, split_sides
from medlib.errors import DatasetError
from medlib.targets import ONE_STRUCTURE

SIDES = ("right lung", "left lung")


def _resized(images: np.ndarray, size: tuple[int, int], nearest: bool) -> np.ndarray:
    if images.shape[1:3] == size:
        return images
    flag = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    out = [cv2.resize(image, (size[1], size[0]), interpolation=flag) for image in images]
    return np.stack([o if o.ndim == images.ndim - 1 else o[..., None] for o in out])


def _lung_fields(dataset: Dataset, union: Sequence[str]) -> bool:
    """Whether ``dataset`` outlines both lungs as one structure that a set labelling each lung can take by side."""
    return len(dataset.structures) == 1 and dataset.structures[0].lower() in LUNG_FIELDS and \
        all(side in union for side in SIDES)


def _structures(sets: Sequence[Dataset]) -> list[str]:
    union: list[str] = []
    for dataset in sets:
        if not _lung_fields(dataset, union):
            union += [s for s in dataset.structures if s not in union]
    if ONE_STRUCTURE in union and len(union) > 1:
        raise DatasetError("a set of unnamed masks (foreground) cannot join sets that name their structures: name "
                           "its structure (a labels.json, or NAME after its path where the command line takes one)")
    if len(union) > 7:
        raise DatasetError(f"the sets outline {len(union)} structures together; at most 7 can be joined")
    return union


def _masks(dataset: Dataset, union: Sequence[str], size: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """The set's label maps at ``size`` in the values of ``union``, with what it does not label marked unknown."""
    masks = _resized(dataset.masks, size, nearest=True)
    if _lung_fields(dataset, union):
        remap = np.zeros(256, np.uint8)
        remap[1], remap[2] = union.index(SIDES[0]) + 1, union.index(SIDES[1]) + 1
        masks = np.stack([remap[split_sides(m)] for m in masks])
        labels = list(SIDES)
    else:
        remap = np.zeros(256, np.uint8)
        for value, name in enumerate(dataset.structures, 1):
            remap[value] = union.index(name) + 1
        masks, labels = remap[masks], list(dataset.structures)
    unknown = [v for v, name in enumerate(union, 1) if name not in labels]
    return np.stack([mark_unknown(m, unknown) for m in masks]), labels


def join(sets: Sequence[Dataset], train_only: bool = False) -> Dataset:
    """The ``sets`` as one (see the module); ``train_only``: every image after the first set's in the training
    split. The pixel spacing is kept only where every set gives the same at the joined size."""
    first, size = sets[0], sets[0].image_size
    for other in sets[1:]:
        if other.channels != first.channels:
            raise DatasetError(f"{other.name} has {other.channels} channel(s), {first.name} {first.channels}")
    masked, classed, located = (all(getattr(d, what) is not None for d in sets)
                                for what in ("masks", "labels", "findings"))
    if not masked and not classed:
        raise DatasetError(f"{', '.join(d.name for d in sets)} share no target: joined sets must all have masks or "
                           "all have classes")
    notes, spacings = [], []
    for what, kept, have in (("masks", masked, lambda d: d.masks is not None),
                             ("classes", classed, lambda d: d.labels is not None),
                             ("located findings", located, lambda d: d.findings is not None)):
        if not kept and any(have(d) for d in sets):
            notes.append(f"the {what} of {', '.join(d.name for d in sets if have(d))} are left out: "
                         f"{', '.join(d.name for d in sets if not have(d))} has none")
    union = _structures(sets) if masked else []
    classes = list(dict.fromkeys(c for d in sets for c in d.class_names)) if classed else []
    parts: dict[str, list] = {k: [] for k in ("images", "masks", "labels", "split", "ids", "groups", "findings")}
    kind = np.result_type(*[d.images.dtype for d in sets])
    for n, dataset in enumerate(sets):
        factor = np.array([size[1] / dataset.image_size[1], size[0] / dataset.image_size[0]])
        prefix = "" if n == 0 else f"{dataset.name}/"
        parts["images"].append(_resized(dataset.images, size, nearest=False).astype(kind))
        if union:
            masks, labels = _masks(dataset, union, size)
            parts["masks"].append(masks)
            notes.append(f"{dataset.name}: {len(dataset)} images labelling {', '.join(labels)}"
                         + (" (its lung fields split by side)" if _lung_fields(dataset, union) else ""))
        if classes:
            parts["labels"].append(np.array([classes.index(dataset.class_names[k]) for k in dataset.labels]))
        train = n > 0 and train_only
        parts["split"].append(np.full(len(dataset), "train", dtype=object) if train else dataset.split.astype(object))
        parts["ids"] += [prefix + i for i in dataset.ids]
        parts["groups"] += [prefix + g for g in (dataset.groups or dataset.ids)]
        if located:
            parts["findings"] += [[f.placed(f.corners() * factor, float(factor.mean())) for f in row]
                                  for row in dataset.findings]
        spacings.append(None if dataset.spacing is None else tuple(np.asarray(dataset.spacing) / factor[::-1]))
    spacing = spacings[0] if all(s is not None and np.allclose(s, spacings[0], rtol=0.02) for s in spacings) else None
    joined = " + ".join(d.name for d in sets)
    if train_only:
        notes.append(f"the images of {', '.join(d.name for d in sets[1:])} join the training split only (resized to "
                     f"{size[1]}×{size[0]}); only {first.name}'s own held-back images judge the run")
    return Dataset(
        name=joined, images=np.concatenate(parts["images"]), split=np.concatenate(parts["split"]).astype(str),
        ids=parts["ids"], labels=np.concatenate(parts["labels"]) if classes else None, class_names=classes,
        masks=np.concatenate(parts["masks"]) if union else None, groups=parts["groups"], structures=union,
        findings=parts["findings"] if located else None,
        spacing=None if spacing is None else (float(spacing[0]), float(spacing[1])),
        notes=[*first.notes, *notes], fit=first.fit)


def with_shared(own: Dataset, shared: Dataset) -> Dataset:
    """``own`` joined by ``shared``, whose images only train (:func:`join`)."""
    return join([own, shared], train_only=True)


def named(dataset: Dataset, structure: str) -> Dataset:
    """A set of one outlined structure with that structure named ``structure`` (a set without a ``labels.json``
    outlines ``foreground``)."""
    if dataset.masks is None or len(dataset.structures) != 1:
        raise DatasetError(f"{dataset.name} outlines {len(dataset.structures)} structures: only a set of one can be "
                           f"named {structure!r}")
    return dataclasses.replace(dataset, structures=[structure])


def source(text: str) -> tuple[str, str | None]:
    """A data set given as ``PATH`` or ``PATH:STRUCTURE`` (the name of its one outlined structure).

    >>> source("../shared/data/lung_shenzhen:lung field"), source("../shared/data/jsrt")
    (('../shared/data/lung_shenzhen', 'lung field'), ('../shared/data/jsrt', None))
    """
    path, _, name = text.rpartition(":")
    return (path, name.strip()) if path and name.strip() and "/" not in name else (text, None)


def load_joined(data: str, also: Sequence[str], seed: int = 0, fit: str = "pad") -> Dataset:
    """``data`` joined by each set of ``also`` (:func:`source`: ``PATH`` or ``PATH:STRUCTURE``), each with its own
    splits (:func:`join`)."""
    from medlib.datasets import load_dataset, planar

    sets = []
    for text in [data, *also]:
        path, structure = source(text)
        dataset = planar(load_dataset(path, seed=seed, fit=fit), "joining")
        if dataset.streamed:
            raise DatasetError(f"{dataset.name} is read from disk (too large for memory): sets are joined in memory")
        sets.append(named(dataset, structure) if structure else dataset)
    return join(sets)
