"""Volume folders: a Medical Segmentation Decathlon task (``dataset.json``, ``imagesTr/``, ``labelsTr/``,
optional ``imagesTs/``) or a folder of NIfTI image and label pairs (``imagesTr``/``labelsTr`` or
``images``/``labels``, names matched, structures named by a ``labels.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from medlib.datasets.volumes import VolumeSet, is_nifti, volume_set
from medlib.errors import DatasetError
from medlib.targets import LABELS_FILE, Structures

TASK_FILE = "dataset.json"
_PAIRS = (("imagestr", "labelstr"), ("images", "labels"))


def _dirs(root: Path) -> dict[str, Path]:
    return {p.name.lower(): p for p in root.iterdir() if p.is_dir()}


def is_volume_folder(root: Path) -> bool:
    """Whether ``root`` is laid out as a Decathlon task or as NIfTI image/label folders."""
    if (root / TASK_FILE).is_file():
        return True
    dirs = _dirs(root)
    return any(images in dirs and any(is_nifti(p) for p in dirs[images].iterdir()) for images, _ in _PAIRS)


def load_volume_folder(root: Path, seed: int = 0) -> VolumeSet:
    """The volumes of a Decathlon task folder or of NIfTI image/label folders."""
    if (root / TASK_FILE).is_file():
        return _load_task(root, seed)
    dirs = _dirs(root)
    images_name, labels_name = next((i, lab) for i, lab in _PAIRS if i in dirs)
    images = sorted(p for p in dirs[images_name].iterdir() if is_nifti(p))
    labels = {p.name.lower(): p for p in dirs[labels_name].iterdir() if is_nifti(p)} if labels_name in dirs else {}
    unmatched = [p.name for p in images if labels and p.name.lower() not in labels]
    if unmatched:
        raise DatasetError(f"no label volume in {labels_name}/ for {len(unmatched)} image(s), e.g. {unmatched[0]}; "
                           "name each label volume like its image")
    names = Structures.read(root / LABELS_FILE) if (root / LABELS_FILE).is_file() else None
    pairs = [(p, labels.get(p.name.lower())) for p in images]
    return volume_set(root.name, pairs, names, None, seed, "nifti image/label folders")


def _load_task(root: Path, seed: int) -> VolumeSet:
    where = root / TASK_FILE
    try:
        task = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{where} cannot be read as JSON ({exc}); fix it") from exc
    structures = Structures.from_json(task, f"{root.name}/{TASK_FILE}")
    training = task.get("training")
    if not isinstance(training, list) or not training:
        raise DatasetError(f'{root.name}/{TASK_FILE} needs a "training" list of {{"image": ..., "label": ...}} pairs')

    def resolve(value: object) -> Path:
        path = (root / str(value)).resolve()
        if root.resolve() not in path.parents:
            raise DatasetError(f"{root.name}/{TASK_FILE} names {value!r}, outside the task folder")
        return path

    pairs, missing = [], []
    for number, item in enumerate(training, start=1):
        if not isinstance(item, dict) or "image" not in item or "label" not in item:
            raise DatasetError(f"{root.name}/{TASK_FILE}: training entry {number} needs an image and a label")
        image, label = resolve(item["image"]), resolve(item["label"])
        missing += [str(p.relative_to(root.resolve())) for p in (image, label) if not p.is_file()]
        pairs.append((image, label))
    tests = [resolve(t["image"] if isinstance(t, dict) else t) for t in task.get("test", [])]
    missing += [str(p.relative_to(root.resolve())) for p in tests if not p.is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(f"{root.name}/{TASK_FILE} names {len(missing)} missing file(s): {shown}; "
                           "add them or remove their entries")
    modality = task.get("modality", {})
    modality = ", ".join(str(v) for v in modality.values()) if isinstance(modality, dict) else str(modality)
    dataset = volume_set(str(task.get("name") or root.name), pairs + [(p, None) for p in tests], structures,
                         None, seed, "decathlon task", modality)
    if tests:
        dataset.notes.append(f"{len(tests)} volumes of imagesTs without labels, kept as test volumes")
    return dataset
