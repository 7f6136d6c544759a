"""MedMNIST-style ``.npz`` archives: ``train_images``, ``train_labels``, ``val_*``, ``test_*``."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from medlib.datasets.dataset import SPLITS, Dataset
from medlib.errors import DatasetError, ImageTooLargeError
from medlib.limits import limit, raise_hint

#: Class names of the MedMNIST sets, keyed by the start of the file name.
MEDMNIST_CLASSES: dict[str, list[str]] = {
    "pneumoniamnist": ["normal", "pneumonia"],
    "breastmnist": ["malignant", "normal, benign"],
    "octmnist": ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"],
    "bloodmnist": [
        "basophil", "eosinophil", "erythroblast", "immature granulocytes", "lymphocyte", "monocyte",
        "neutrophil", "platelet",
    ],
    "dermamnist": [
        "actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma", "benign keratosis-like lesions",
        "dermatofibroma", "melanoma", "melanocytic nevi", "vascular lesions",
    ],
}


def _class_names(arrays: dict[str, np.ndarray], name: str, n_classes: int) -> list[str]:
    if "class_names" in arrays:
        names = [str(c) for c in arrays["class_names"].tolist()]
    else:
        key = next((k for k in MEDMNIST_CLASSES if name.lower().startswith(k)), None)
        names = MEDMNIST_CLASSES[key] if key else [f"class_{k}" for k in range(n_classes)]
    if len(names) < n_classes:
        raise DatasetError(f"labels go up to {n_classes - 1} but only {len(names)} class names are known")
    return names[: max(n_classes, len(names))]


def _images(array: np.ndarray, key: str) -> np.ndarray:
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise DatasetError(f"{key} must be (N, H, W) or (N, H, W, 1|3), got shape {array.shape}")
    if array.dtype.kind not in "uif":
        raise DatasetError(f"{key} holds {array.dtype} values; save numbers (uint8, uint16, int16 or float)")
    kept = (np.uint8, np.uint16, np.int16, np.float32)
    return array if array.dtype in kept else array.astype(np.float32)  # 8-bit stays 8-bit


def load_npz(data: bytes, name: str = "dataset.npz") -> Dataset:
    """Load a MedMNIST-style archive from its bytes; ``name`` picks MedMNIST class names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{name} is not a valid .npz archive ({exc}); save it again with numpy.savez") from exc
    if expanded > limit("max_archive_mb"):
        raise ImageTooLargeError(f"{name} expands to {expanded:,} bytes, too large to open "
                                 f"({raise_hint('max_archive_mb')})")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as exc:
        raise DatasetError(f"{name} holds Python objects or damaged arrays ({exc}); save plain arrays") from exc
    present = [s for s in SPLITS if f"{s}_images" in arrays]
    if not present:
        raise DatasetError(f"{name} has no train_images/val_images/test_images arrays; found {sorted(arrays)}")
    images, labels, masks, split = [], [], [], []
    for s in present:
        x = _images(arrays[f"{s}_images"], f"{s}_images")
        images.append(x)
        split += [s] * len(x)
        if f"{s}_labels" in arrays:
            y = arrays[f"{s}_labels"]
            if y.ndim == 2 and y.shape[1] > 1:
                raise DatasetError(f"{s}_labels has {y.shape[1]} columns: multi-label sets are not supported")
            labels.append(y.reshape(-1).astype(np.int64))
        if f"{s}_masks" in arrays:
            masks.append((arrays[f"{s}_masks"].reshape(x.shape[:3]) > 0).astype(np.uint8))
    if len({x.shape[1:] for x in images}) != 1:
        raise DatasetError(f"the splits of {name} hold images of different sizes: {[x.shape[1:] for x in images]}")
    if labels and len(labels) != len(present):
        raise DatasetError(f"{name} has labels for some splits but not for all")
    label_array = np.concatenate(labels) if labels else None
    class_names: list[str] = []
    if label_array is not None:
        if label_array.min() < 0:
            raise DatasetError(f"{name} has negative labels; labels must be 0, 1, 2, ...")
        class_names = _class_names(arrays, name, int(label_array.max()) + 1)
    stacked = np.concatenate(images)
    dataset = Dataset(
        name=name.rsplit("/", 1)[-1],
        images=stacked,
        split=np.array(split),
        ids=[f"{s}-{i:05d}" for s in present for i in range(int(np.sum(np.array(split) == s)))],
        labels=label_array,
        class_names=class_names,
        masks=np.concatenate(masks) if len(masks) == len(present) else None,
        synthetic=bool(arrays.get("synthetic", np.array(False)).item()) if "synthetic" in arrays else False,
        source_format="npz",
    )
    if "val" not in present:
        dataset.notes.append("no validation split was given; training holds out part of train")
    return dataset
