"""The image/mask-folder layout: ``images/`` beside ``masks/`` (or ``labels/``, ``1st_manual/``...) and optionally
a field-of-view folder, each mask named like its image (same stem or same first number)."""

from __future__ import annotations

from pathlib import Path

from medlib.datasets.files import Entry, children, images_in, match_files

IMAGE_DIRS = ("images", "image", "imgs", "img")
MASK_DIRS = ("masks", "labels", "label", "1st_manual", "manual", "annotations", "gt", "groundtruth", "mask")
FOV_DIRS = ("fov", "roi")


def mask_folders(folder: Path) -> tuple[Path, Path, Path | None] | None:
    """(images, masks, field-of-view) sub-folders of ``folder``, if it is laid out that way."""
    names = {p.name.lower(): p for p in children(folder) if p.is_dir()}
    image_dir = next((names[n] for n in IMAGE_DIRS if n in names), None)
    mask_names = [n for n in MASK_DIRS if n in names]
    if image_dir is None or not mask_names:
        return None
    fov_dir = next((names[n] for n in FOV_DIRS if n in names), None)
    if fov_dir is None and len(mask_names) > 1 and "mask" in mask_names:
        fov_dir = names["mask"]  # DRIVE: 1st_manual holds the vessels, mask the field of view
    return image_dir, names[mask_names[0]], fov_dir


def has_mask_folders(folder: Path) -> bool:
    return mask_folders(folder) is not None


def mask_folder_entries(folder: Path, split: str | None, skipped: list[str]) -> list[Entry]:
    """Each image of the images folder with its mask (and field of view) matched by name."""
    image_dir, mask_dir, fov_dir = mask_folders(folder)
    images = images_in(image_dir, skipped)
    masks = match_files(images, images_in(mask_dir, []), "mask")
    fovs = match_files(images, images_in(fov_dir, []), "field-of-view mask") if fov_dir else [None] * len(images)
    return [Entry(i, mask=m, fov=f, split=split) for i, m, f in zip(images, masks, fovs, strict=True)]
