"""Helpers shared by several test modules: a toy data set anyone can classify, fast training settings, and the
browser tests' page handling."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np

from medlib.datasets import Dataset
from medlib.datasets.split import assign_splits
from medlib.targets import Finding


def blobs(n: int = 96, size: int = 16, seed: int = 0) -> Dataset:
    """Two classes anyone can tell apart: a bright square in class 1, none in class 0."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.normal(0.3, 0.05, (n, size, size, 1)).astype(np.float32)
    for i in np.flatnonzero(labels):
        y, x = rng.integers(2, size - 7, 2)
        images[i, y : y + 5, x : x + 5] += 0.5
    return Dataset("blobs", images, assign_splits(n, labels, seed=seed), [f"b{i}" for i in range(n)],
                   labels=labels, class_names=["empty", "blob"], synthetic=True)


SIZE, SIDE = 32, 6


def squares(n: int = 200, seed: int = 0, contrast: float = 0.5) -> Dataset:
    """Class 1 has a square ``contrast`` brighter than the background somewhere (its mask is the square); class 0
    has none."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.normal(0.3, 0.05, (n, SIZE, SIZE, 1)).astype(np.float32)
    masks = np.zeros((n, SIZE, SIZE), np.uint8)
    for i in np.flatnonzero(labels):
        y, x = rng.integers(2, SIZE - SIDE - 2, 2)
        images[i, y : y + SIDE, x : x + SIDE] += contrast
        masks[i, y : y + SIDE, x : x + SIDE] = 1
    return Dataset("squares", images, assign_splits(n, labels, seed=seed), [f"s{i}" for i in range(n)],
                   labels=labels, class_names=["empty", "square"], masks=masks, synthetic=True)


def two_structures(n: int = 80, seed: int = 0) -> Dataset:
    """A bright square (structure 1, ``square``) and a dark disk (structure 2, ``disk``) on every image."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.5, 0.04, (n, SIZE, SIZE, 1)).astype(np.float32)
    masks = np.zeros((n, SIZE, SIZE), np.uint8)
    rows, columns = np.mgrid[:SIZE, :SIZE]
    for i in range(n):
        y, x = rng.integers(2, 10, 2)
        images[i, y : y + 8, x : x + 8] += 0.4
        masks[i, y : y + 8, x : x + 8] = 1
        cy, cx = rng.integers(20, 28, 2)
        disk = (rows - cy) ** 2 + (columns - cx) ** 2 <= 16
        images[i][disk] -= 0.4
        masks[i][disk] = 2
    return Dataset("two", images, assign_splits(n, None, seed=seed), [f"t{i}" for i in range(n)], masks=masks,
                   structures=["square", "disk"], synthetic=True)


def spots(n: int = 120, seed: int = 0) -> Dataset:
    """Half the images hold one bright spot, located as a point with a radius (a ``nodule``); none a mask."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.normal(0.4, 0.05, (n, SIZE, SIZE, 1)).astype(np.float32)
    rows, columns = np.mgrid[:SIZE, :SIZE]
    findings: list[list[Finding]] = []
    for i in range(n):
        found = []
        if labels[i]:
            y, x = (float(v) for v in rng.integers(5, SIZE - 5, 2))
            images[i][(rows - y) ** 2 + (columns - x) ** 2 <= 9] += 0.5
            found.append(Finding("nodule", (x, y), 3.0))
        findings.append(found)
    return Dataset("spots", images, assign_splits(n, labels, seed=seed), [f"p{i}" for i in range(n)],
                   labels=labels, class_names=["normal", "nodule"], findings=findings, synthetic=True)


SHAPE_3D = (20, 24, 20)


def _phantom(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = np.mgrid[: SHAPE_3D[0], : SHAPE_3D[1], : SHAPE_3D[2]]
    centre = rng.integers(7, 13, 3)
    sphere = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= 16
    ellipsoid = ((z - centre[0]) / 3) ** 2 + ((y - centre[1] - 6) / 2) ** 2 + ((x - centre[2]) / 3) ** 2 <= 1
    image = rng.normal(0.0, 0.2, SHAPE_3D).astype(np.float32)
    image[sphere] += 1.0
    image[ellipsoid & ~sphere] -= 1.0
    labels = np.zeros(SHAPE_3D, np.uint8)
    labels[sphere], labels[ellipsoid & ~sphere] = 1, 2
    return image, labels


def write_task(root, count: int = 16, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)):
    """A Decathlon task folder of ``count`` phantom volumes at ``spacing``."""
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    rng = np.random.default_rng(0)
    affine = np.diag([*spacing, 1.0])
    pairs = []
    for k in range(count):
        image, labels = _phantom(rng)
        nib.save(nib.Nifti1Image(image, affine), root / "imagesTr" / f"v{k}.nii.gz")
        nib.save(nib.Nifti1Image(labels, affine), root / "labelsTr" / f"v{k}.nii.gz")
        pairs.append({"image": f"./imagesTr/v{k}.nii.gz", "label": f"./labelsTr/v{k}.nii.gz"})
    (root / "dataset.json").write_text(json.dumps({"name": "spheres", "modality": {"0": "MRI"}, "training": pairs,
                                                   "labels": {"0": "background", "1": "sphere", "2": "ellipsoid"}}))
    return root


FAST = {"epochs": 6, "learning_rate": 5e-3, "early_stopping": 0, "augment": {"steps": []}}


EXCEPTION = "[data-testid='stException']"


def _record_failure(errors: list[str], response) -> None:
    # Images of a superseded rerun are dropped by Streamlit's media store; a late request for one is harmless.
    if response.status >= 400 and "/media/" not in response.url:
        errors.append(f"{response.status} {response.url}")


def _harmless(text: str) -> bool:
    """A console error that says nothing about the app: a failed load already judged by its response, or
    Streamlit's own note that an image of a superseded rerun was gone from its media store (after fast reruns)."""
    return text.startswith("Failed to load resource") or ("Image source error" in text and "/media/" in text)


def open_app(browser, url: str):
    """A new page on the app, collecting console errors, page errors and failed requests."""
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not _harmless(m.text) else None)
    page.on("response", lambda r: _record_failure(errors, r))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.get_by_role("heading", name="MedLab dashboard").wait_for(timeout=60_000)  # the start page
    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_role("heading", name="Upload").wait_for(timeout=60_000)
    return page, errors


def images_loaded(page) -> None:
    """Wait until every image on the page has loaded (they come from /media after the script run)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=30_000,
    )


def settle(page) -> None:
    page.wait_for_timeout(500)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=60_000)
    # Elements of the run before stay on the page, faded, until the new run replaces them.
    page.wait_for_function("!document.querySelector(\"[data-stale='true']\")", timeout=60_000)
    # A new tab loads the code of some elements (images, charts, tables) only when first shown: a grey
    # placeholder stands in for each until then.
    page.wait_for_function("!document.querySelector(\"[data-testid='stSkeleton']\")", timeout=60_000)
