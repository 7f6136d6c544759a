"""The built-in synthetic data set: chest-radiograph-like films with lesion masks.

Each film has two lung fields, the mediastinum and heart shadow, ribs, domed
diaphragms and soft-tissue texture, with varied body size, position,
rotation, exposure and noise. Classes: ``normal``, ``nodule`` (one to three
round opacities) and ``consolidation`` (a patchy lobar opacity); every lesion
has its pixel mask. SYNTHETIC DATA: not for clinical use.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context

import cv2
import numpy as np

from medlib.datasets.cache import Chunk, shard_size
from medlib.datasets.dataset import Dataset, placeholder
from medlib.datasets.split import assign_splits
from medlib.display.drawing import scale_to_uint8

CLASS_NAMES = ["normal", "nodule", "consolidation"]
PHANTOM_NAME = "Synthetic chest films (phantom)"


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A smooth random field in about -1..1, with ``cells`` blobs across the image."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _ellipse(u: np.ndarray, v: np.ndarray, cu: float, cv: float, au: float, av: float) -> np.ndarray:
    return ((u - cu) / au) ** 2 + ((v - cv) / av) ** 2


def _soft(inside: np.ndarray, edge: float = 0.08) -> np.ndarray:
    """1 inside an implicit shape (value < 1), falling smoothly to 0 outside."""
    return np.clip((1.0 - inside) / edge, 0.0, 1.0)


def _nodules(rng, u, v, lungs, pixel):
    opacity = np.zeros_like(u)
    mask = np.zeros(u.shape, bool)
    ys, xs = np.nonzero(lungs > 0.9)
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.integers(len(ys)))
        cu, cv = u[ys[k], xs[k]], v[ys[k], xs[k]]
        radius = max(float(rng.uniform(0.045, 0.12)), 2.5 * pixel)
        d2 = ((u - cu) ** 2 + (v - cv) ** 2) / radius**2
        opacity += float(rng.uniform(0.14, 0.32)) * np.clip(1.0 - d2, 0.0, 1.0) ** 0.6
        mask |= d2 < 0.85
    return opacity, mask


def _consolidation(rng, u, v, lungs, size):
    side = rng.choice([-1.0, 1.0])
    cu, cv = side * float(rng.uniform(0.3, 0.45)), float(rng.uniform(-0.15, 0.35))
    region = _ellipse(u, v, cu, cv, float(rng.uniform(0.18, 0.28)), float(rng.uniform(0.2, 0.32)))
    patch = (region + 0.35 * _smooth_noise(rng, size, 6)) < 1.0
    mask = patch & (lungs > 0.5)
    mottle = 0.75 + 0.25 * _smooth_noise(rng, size, 16)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigmaX=max(size / 96.0, 0.8))
    return float(rng.uniform(0.18, 0.3)) * soft * mottle, mask


def chest_film(label: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic film (size×size float32 in 0..1) of class ``label`` and its lesion mask."""
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    x, y = np.meshgrid(grid, grid)
    angle = np.deg2rad(rng.uniform(-6, 6))
    scale = rng.uniform(0.88, 1.08)
    shift_x, shift_y = rng.uniform(-0.06, 0.06), rng.uniform(-0.05, 0.05)
    u = ((x - shift_x) * np.cos(angle) + (y - shift_y) * np.sin(angle)) / scale
    v = (-(x - shift_x) * np.sin(angle) + (y - shift_y) * np.cos(angle)) / scale

    body_width = rng.uniform(0.86, 1.0)
    body = _soft(_ellipse(u, v, 0.0, 0.2, body_width, 1.2), 0.05)
    lungs = np.zeros_like(u)
    for side, dome in ((-1.0, rng.uniform(0.42, 0.52)), (1.0, rng.uniform(0.48, 0.58))):
        cu = side * rng.uniform(0.38, 0.44)
        au, av = rng.uniform(0.28, 0.33), rng.uniform(0.66, 0.74)
        taper = 0.55 + 0.45 * np.clip((v + 0.75) / 0.8, 0.0, 1.0)  # narrower at the apex
        lung = _soft(((u - cu) / (au * taper)) ** 2 + ((v + 0.05) / av) ** 2)
        diaphragm = np.clip((dome + 0.25 * ((u - cu) / au) ** 2 - v) / 0.03, 0.0, 1.0)
        lungs = np.maximum(lungs, lung * diaphragm)
    heart = _soft(_ellipse(u, v, rng.uniform(0.1, 0.18), rng.uniform(0.3, 0.38), rng.uniform(0.3, 0.36), 0.26))
    upper = np.clip((0.35 - v) / 0.2, 0.0, 1.0)
    mediastinum = _soft(np.abs(u / (0.09 + 0.05 * np.clip(v + 0.6, 0, 1))) ** 2, 0.3) * upper
    spine = _soft(np.abs(u / 0.06) ** 2, 0.4)
    spacing = rng.uniform(0.15, 0.18)
    ribs = np.clip((np.cos(2 * np.pi * (v - 0.55 * u**2) / spacing) - 0.55) / 0.45, 0.0, 1.0)

    image = 0.03 + 0.42 * body
    image -= 0.3 * lungs * body
    image += 0.2 * np.maximum(heart, mediastinum) * body + 0.06 * spine * body
    image += (0.08 * lungs + 0.02) * ribs * body
    image += 0.035 * _smooth_noise(rng, size, max(size // 6, 4)) * lungs
    image += 0.02 * _smooth_noise(rng, size, 5) * body

    mask = np.zeros((size, size), bool)
    pixel = 2.0 / size
    if CLASS_NAMES[label] == "nodule":
        opacity, mask = _nodules(rng, u, v, lungs, pixel)
        image += opacity
    elif CLASS_NAMES[label] == "consolidation":
        opacity, mask = _consolidation(rng, u, v, lungs, size)
        image += opacity

    gamma = rng.uniform(0.8, 1.25)
    image = np.clip(image, 0.0, 1.0) ** gamma * rng.uniform(0.85, 1.1) + rng.uniform(-0.03, 0.05)
    image += rng.normal(0.0, rng.uniform(0.005, 0.025), image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32), mask.astype(np.uint8)


def _check(n: int, size: int) -> None:
    if n < 3:
        raise ValueError(f"the phantom needs at least 3 images (one per class), got n={n}")
    if not 16 <= size <= 2048:
        raise ValueError(f"the phantom size must be between 16 and 2048 pixels, got {size}")


def _phantom(n: int, seed: int, images: np.ndarray, masks: np.ndarray, notes: list[str]) -> Dataset:
    labels = np.arange(n) % len(CLASS_NAMES)
    return Dataset(
        name=PHANTOM_NAME,
        images=images,
        split=assign_splits(n, labels, seed=seed),
        ids=[f"phantom-{i:05d}" for i in range(n)],
        labels=labels.astype(np.int64),
        class_names=list(CLASS_NAMES),
        masks=masks,
        synthetic=True,
        source_format="built-in synthetic",
        notes=["SYNTHETIC DATA generated by medlib: not for clinical use", *notes],
    )


def _films(start: int, stop: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Films ``start`` to ``stop`` (float32 N×size×size×1) and their masks."""
    images = np.empty((stop - start, size, size, 1), np.float32)
    masks = np.empty((stop - start, size, size), np.uint8)
    for k, i in enumerate(range(start, stop)):
        images[k, ..., 0], masks[k] = chest_film(i % len(CLASS_NAMES), size, np.random.default_rng([seed, i]))
    return images, masks


def make_phantom(n: int = 300, size: int = 128, seed: int = 0) -> Dataset:
    """``n`` synthetic chest films of ``size``×``size`` with labels, masks and a stratified split.

    Deterministic for a seed; image ``i`` is the same whatever ``n`` is.

    >>> ds = make_phantom(6, size=32)
    >>> ds.class_names, ds.images.shape, ds.masks.shape
    (['normal', 'nodule', 'consolidation'], (6, 32, 32, 1), (6, 32, 32))
    """
    _check(n, size)
    return _phantom(n, seed, *_films(0, n, size, seed), [])


def _eight_bit_chunk(start: int, stop: int, size: int, seed: int) -> Chunk:
    images, masks = _films(start, stop, size, seed)
    return Chunk(scale_to_uint8(images, 0.0, 1.0), masks)


def phantom_chunks(n: int, size: int = 128, seed: int = 0, chunk: int | None = None,
                   workers: int = 1) -> tuple[Dataset, Iterator[Chunk]]:
    """The phantom of :func:`make_phantom` made ``chunk`` films at a time, as 8-bit films (the values rounded to
    256 levels, as its PNG export has them), for a set larger than memory (:func:`medlib.datasets.cache.write_cache`):
    the data set with placeholder arrays, and its chunks (by default a shard's worth each), in order.
    ``workers`` processes make them, at most one chunk ahead each."""
    _check(n, size)
    chunk = chunk or shard_size((size, size, 1))
    template = _phantom(n, seed, placeholder((n, size, size, 1)), placeholder((n, size, size)),
                        ["8-bit films: the synthetic values rounded to 256 levels"])
    starts = range(0, n, chunk)

    def chunks() -> Iterator[Chunk]:
        if workers <= 1:
            yield from (_eight_bit_chunk(start, min(start + chunk, n), size, seed) for start in starts)
            return
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            pending: deque[Future[Chunk]] = deque()
            for start in starts:
                pending.append(pool.submit(_eight_bit_chunk, start, min(start + chunk, n), size, seed))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    return template, chunks()
