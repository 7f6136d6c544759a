"""A set of a person's own labels joined by a shared set that labels the same structures: one set of one size
for a run (the shared images learn only: they join its training split, and the person's held-back images stay the
only ones it is judged on).

>>> from medlib.datasets.phantom import make_phantom
>>> joined = with_shared(make_phantom(6, size=64, seed=1), make_phantom(4, size=32, seed=2))
>>> len(joined), joined.image_size, sorted(set(joined.split[6:].tolist()))
(10, (64, 64), ['train'])
"""

from __future__ import annotations

import cv2
import numpy as np

from medlib.datasets.dataset import Dataset
from medlib.errors import DatasetError


def _resized(images: np.ndarray, size: tuple[int, int], nearest: bool) -> np.ndarray:
    if images.shape[1:3] == size:
        return images
    flag = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    out = [cv2.resize(image, (size[1], size[0]), interpolation=flag) for image in images]
    return np.stack([o if o.ndim == images.ndim - 1 else o[..., None] for o in out])


def _check(own: Dataset, shared: Dataset) -> None:
    if (own.masks is None) != (shared.masks is None) or (own.masks is not None and
                                                          set(own.structures) != set(shared.structures)):
        raise DatasetError(f"{shared.name} outlines {', '.join(shared.structures) or 'nothing'}, your set "
                           f"{', '.join(own.structures) or 'nothing'}: a shared set must label the same structures "
                           "(sets that label some structures only are not joined yet)")
    if (own.labels is None) != (shared.labels is None):
        raise DatasetError(f"{'only one' if own.labels is None or shared.labels is None else 'each'} of {own.name} "
                           f"and {shared.name} has classes: a shared set must label what your set labels")
    if own.channels != shared.channels:
        raise DatasetError(f"{shared.name} has {shared.channels} channel(s), your set {own.channels}")


def with_shared(own: Dataset, shared: Dataset) -> Dataset:
    """``own`` followed by ``shared`` brought to ``own``'s image size (masks by nearest pixel, findings scaled),
    its structures and classes matched by name, every shared image in the training split and each of its patients
    kept apart from the person's; the pixel spacing kept only where both sets give the same."""
    _check(own, shared)
    size = own.image_size
    factor = np.array([size[1] / shared.image_size[1], size[0] / shared.image_size[0]])
    masks = None
    if own.masks is not None:
        remap = np.zeros(256, np.uint8)
        for value, name in enumerate(shared.structures, 1):
            remap[value] = own.structures.index(name) + 1
        masks = np.concatenate([own.masks, remap[_resized(shared.masks, size, nearest=True)]])
    labels, classes = None, list(own.class_names)
    if own.labels is not None:
        classes += [c for c in shared.class_names if c not in classes]
        labels = np.concatenate([own.labels, [classes.index(shared.class_names[k]) for k in shared.labels]])
    findings = None
    if own.findings is not None or shared.findings is not None:
        moved = [[f.placed(f.corners() * factor, float(factor.mean())) for f in row]
                 for row in (shared.findings or [[] for _ in range(len(shared))])]
        findings = (own.findings or [[] for _ in range(len(own))]) + moved
    kind = np.result_type(own.images.dtype, shared.images.dtype)
    groups = (own.groups or list(own.ids)) + [f"{shared.name}/{g}" for g in (shared.groups or shared.ids)]
    spacing = own.spacing if own.spacing is not None and shared.spacing is not None and np.allclose(
        np.asarray(own.spacing), np.asarray(shared.spacing) / factor[::-1]) else None
    return Dataset(
        name=f"{own.name} + {shared.name}",
        images=np.concatenate([own.images.astype(kind), _resized(shared.images, size, nearest=False).astype(kind)]),
        split=np.concatenate([own.split, np.full(len(shared), "train", dtype=own.split.dtype)]),
        ids=list(own.ids) + [f"{shared.name}/{i}" for i in shared.ids], labels=labels, class_names=classes,
        masks=masks, groups=groups, structures=list(own.structures), findings=findings, spacing=spacing,
        notes=[*own.notes, f"{len(shared)} images of {shared.name} join the training split (resized to "
               f"{size[1]}×{size[0]}); only the set's own held-back images judge the run"])
