"""3-D data sets: volumes (MRI, CT) with label volumes of named structures, their voxel spacing and affine.

A :class:`VolumeSet` holds each volume in the closest canonical (RAS+) orientation, so that its axes are
left→right, posterior→anterior and inferior→superior whatever the file stored; its ``affine`` maps voxel
indexes to millimetres in the scanner's space, as the file's did.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from medlib.datasets.dataset import SPLITS
from medlib.errors import DatasetError
from medlib.input.nifti import gunzip_capped
from medlib.targets import Structures, unnamed_structures

NIFTI_SUFFIXES = (".nii", ".nii.gz")
PLANES = ("axial", "coronal", "sagittal")


@dataclass
class Volume:
    """One 3-D sample: the image (X×Y×Z float32, RAS+), its label volume (0..K) if any, spacing and affine."""

    id: str
    image: np.ndarray
    affine: np.ndarray
    labels: np.ndarray | None = None

    @property
    def spacing(self) -> tuple[float, float, float]:
        """The voxel size in mm along the array's three axes."""
        return tuple(float(v) for v in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))

    def plane(self, which: str, index: int, labels: bool = False) -> np.ndarray:
        """One slice as a picture (rows top to bottom, columns left to right on the screen): ``axial`` (seen from
        the feet, anterior up), ``coronal`` (from the front, superior up) or ``sagittal`` (from the left)."""
        array = self.labels if labels else self.image
        if array is None:
            raise DatasetError(f"{self.id} has no label volume")
        axis = {"sagittal": 0, "coronal": 1, "axial": 2}[which]
        cut = np.take(array, int(np.clip(index, 0, array.shape[axis] - 1)), axis=axis)
        return np.flipud(cut.T)  # the second remaining axis (anterior or superior) upwards


@dataclass
class VolumeSet:
    """Volumes with label volumes of named structures, and their splits."""

    name: str
    volumes: list[Volume]
    split: np.ndarray
    structures: list[str] = field(default_factory=list)
    modality: str = ""
    notes: list[str] = field(default_factory=list)
    source_format: str = ""

    dimensions = 3

    @property
    def task(self) -> str:
        return "segmentation" if self.structures else "volumes"

    def __len__(self) -> int:
        return len(self.volumes)

    @property
    def ids(self) -> list[str]:
        return [v.id for v in self.volumes]

    def summary(self) -> dict[str, Any]:
        """What ``python -m medlib info`` prints."""
        shapes = np.array([v.image.shape for v in self.volumes])
        spacing = np.median(np.array([v.spacing for v in self.volumes]), axis=0)
        labelled = [v for v in self.volumes if v.labels is not None]
        return {
            "name": self.name, "task": self.task, "synthetic": False, "format": self.source_format,
            "dimensions": 3, "images": len(self), "modality": self.modality,
            "splits": {s: int((self.split == s).sum()) for s in SPLITS},
            "structures": list(self.structures),
            "findings": {"count": 0, "images": 0, "kinds": {}, "labels": {}},
            "labelled_volumes": len(labelled),
            "spacing": [round(float(v), 4) for v in spacing],
            "shape": {"median": [int(v) for v in np.median(shapes, axis=0)],
                      "min": [int(v) for v in shapes.min(axis=0)], "max": [int(v) for v in shapes.max(axis=0)],
                      "distinct": len({tuple(s) for s in shapes.tolist()})},
            "structure_share": {name: float(np.mean([(v.labels == k).mean() for v in labelled]))
                                for k, name in enumerate(self.structures, start=1)} if labelled else {},
            "value_range": [float(min(v.image.min() for v in self.volumes)),
                            float(max(v.image.max() for v in self.volumes))],
            "notes": list(self.notes),
        }


def is_nifti(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(NIFTI_SUFFIXES)


def _load(path: Path) -> tuple[nib.Nifti1Image, np.ndarray]:
    """The NIfTI image of ``path`` and the voxel spacing its header declares (before nibabel mends a 0 to 1)."""
    try:
        data = path.read_bytes()
        raw = gunzip_capped(data) if path.name.lower().endswith(".gz") else data
        image_class = nib.Nifti2Image if raw[4:8] == b"n+2\x00" else nib.Nifti1Image
        declared = image_class.header_class.from_fileobj(io.BytesIO(raw), check=False)["pixdim"][1:4]
        return image_class.from_bytes(raw), np.asarray(declared, float)
    except DatasetError:
        raise
    except Exception as exc:  # nibabel raises many types on a bad header or short data
        raise DatasetError(f"{path.name} cannot be read as NIfTI ({exc}); export it again") from exc


def read_volume(image_path: Path, label_path: Path | None = None, structures: Structures | None = None) -> Volume:
    """A NIfTI image (and its label volume) as a :class:`Volume`; a label volume of another shape or affine than
    its image, a 4-D label volume, a spacing of 0 or NaN and an unnamed label value each raise naming the file."""
    image, zooms = _load(image_path)
    if image.ndim == 4 and image.shape[3] == 1 or image.ndim == 3:
        pass
    elif image.ndim == 4:
        raise DatasetError(f"{image_path.name} holds {image.shape[3]} channels or time points; medlib reads "
                           "one-channel volumes: save one channel per file")
    else:
        raise DatasetError(f"{image_path.name} has {image.ndim} dimensions; a volume needs three")
    zooms = zooms[: min(3, image.ndim)]
    if not np.all(np.isfinite(zooms)) or np.any(zooms <= 0):
        raise DatasetError(f"{image_path.name} has voxel spacing {zooms.tolist()}; fix the header's pixdim "
                           "(every spacing must be a positive number of mm)")
    labels = None
    if label_path is not None:
        label, _ = _load(label_path)
        if label.ndim != 3:
            raise DatasetError(f"the label volume {label_path.name} has {label.ndim} dimensions "
                               f"{tuple(label.shape)}; save one 3-D label volume (values 0..K) per image")
        if tuple(label.shape) != tuple(image.shape[:3]):
            raise DatasetError(f"the label volume {label_path.name} is {tuple(label.shape)} but its image "
                               f"{image_path.name} is {tuple(image.shape[:3])}; check that each label belongs to "
                               "its image")
        if not np.allclose(label.affine, image.affine, atol=1e-3):
            raise DatasetError(f"the label volume {label_path.name} has another affine (position or orientation) "
                               f"than its image {image_path.name}; resample it onto the image's grid")
        canonical = nib.as_closest_canonical(label)
        values = np.asarray(canonical.dataobj)
        if not np.array_equal(values, np.round(values)):
            raise DatasetError(f"the label volume {label_path.name} holds fractional values; save whole "
                               "numbers 0..K")
        labels = (structures or unnamed_structures(values, label_path.name)).encode(values, label_path.name)
    canonical = nib.as_closest_canonical(image if image.ndim == 3 else image.slicer[..., 0])
    data = np.asarray(canonical.dataobj, dtype=np.float32)
    if not np.all(np.isfinite(data)):
        raise DatasetError(f"{image_path.name} holds NaN or infinite values; fix the volume")
    return Volume(_stem(image_path), data, np.asarray(canonical.affine, float), labels)


def _stem(path: Path) -> str:
    name = path.name
    return next((name[: -len(s)] for s in NIFTI_SUFFIXES[::-1] if name.lower().endswith(s)), path.stem)


def volume_set(name: str, pairs: list[tuple[Path, Path | None]], structures: Structures | None,
               split: list[str] | None, seed: int, source_format: str, modality: str = "") -> VolumeSet:
    """Read every (image, label) pair into a :class:`VolumeSet`; a set that fails is refused whole."""
    from medlib.datasets.split import assign_splits

    volumes = [read_volume(image, label, structures) for image, label in pairs]
    notes = []
    if split is None or set(split) <= {"train"}:
        labelled = np.array([v.labels is not None for v in volumes])
        split_array = np.full(len(volumes), "test", dtype="<U5")
        if labelled.any():
            split_array[labelled] = assign_splits(int(labelled.sum()), None, None, seed)
        notes.append("no validation or test split was given: a seeded 70/15/15 split of the labelled volumes "
                     "was made" + ("; volumes without labels are test volumes" if not labelled.all() else ""))
    else:
        split_array = np.array(split, dtype="<U5")
    names = list(structures.names) if structures is not None else \
        (["foreground"] if any(v.labels is not None for v in volumes) else [])
    shapes = Counter(v.image.shape for v in volumes)
    if len(shapes) > 1:
        notes.append(f"{len(volumes)} volumes of {len(shapes)} shapes (kept as they are)")
    return VolumeSet(name, volumes, split_array, names, modality, notes, source_format)


SHARED_FILE = "volumes.json"


def share_volumes(volumes: VolumeSet, folder: Path) -> Path:
    """Write ``volumes`` into ``folder`` (each volume's arrays as ``.npy`` files and ``volumes.json``) for another
    process to read with :func:`open_shared_volumes`."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for k, volume in enumerate(volumes.volumes):
        np.save(folder / f"image{k}.npy", volume.image, allow_pickle=False)
        np.save(folder / f"affine{k}.npy", volume.affine, allow_pickle=False)
        if volume.labels is not None:
            np.save(folder / f"labels{k}.npy", volume.labels, allow_pickle=False)
    facts = {"name": volumes.name, "ids": volumes.ids, "split": volumes.split.tolist(),
             "structures": list(volumes.structures), "modality": volumes.modality, "notes": list(volumes.notes),
             "source_format": volumes.source_format}
    (folder / SHARED_FILE).write_text(json.dumps(facts), encoding="utf-8")
    return folder


def open_shared_volumes(folder: Path) -> VolumeSet:
    """The volume set :func:`share_volumes` wrote."""
    import json

    facts = json.loads((folder / SHARED_FILE).read_text(encoding="utf-8"))
    volumes = [Volume(name, np.load(folder / f"image{k}.npy"), np.load(folder / f"affine{k}.npy"),
                      np.load(folder / f"labels{k}.npy") if (folder / f"labels{k}.npy").is_file() else None)
               for k, name in enumerate(facts["ids"])]
    return VolumeSet(facts["name"], volumes, np.array(facts["split"], dtype="<U5"), facts["structures"],
                     facts["modality"], facts["notes"], facts["source_format"])
