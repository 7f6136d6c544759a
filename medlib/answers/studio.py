"""The nodule studio: a simulated nodule placed on a film (:mod:`medlib.datasets.nodules`), the film answered by a
locating model as any film is (:func:`medlib.answers.diagnose.diagnose`), and whether a called candidate lies on
the nodule, where it truly is."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from medlib.answers.diagnose import diagnose
from medlib.answers.diagnosis import Diagnosis
from medlib.answers.picture import diagnosis_picture
from medlib.datasets.nodules import Nodule, as_film, place_nodule
from medlib.display.drawing import as_rgb
from medlib.scoring.candidates import hit_margin, hits
from medlib.targets import Finding

TRUTH_COLOR = (40, 220, 90)
"""The colour of the true nodule's outline."""


@dataclass
class Trial:
    """A simulated nodule on a film and the locating model's answer."""

    film: np.ndarray
    """The film with the nodule, in its own type."""
    truth: Finding
    diagnosis: Diagnosis
    hit: int | None
    """The number of the first called candidate that lies on the nodule, else ``None`` (missed)."""


def try_nodule(locator, film: np.ndarray, lungs: np.ndarray, nodule: Nodule, spacing: float, diameter_mm: float,
               contrast: float, centre: tuple[float, float] | None = None, seed: int = 0,
               candidate_threshold: float | None = None) -> Trial:
    """Place ``nodule`` (``diameter_mm`` across, ``contrast``) on ``film`` at ``centre`` (x, y), or at a seeded
    random place in ``lungs``, and answer it with ``locator``; a called candidate (at ``candidate_threshold``, by
    default the model's own) that hits it (:func:`medlib.scoring.candidates.hits`) finds it."""
    placed, truth = place_nodule(film, lungs, nodule, spacing, contrast, np.random.default_rng(seed),
                                 diameter_mm=diameter_mm, centre=centre)
    placed = as_film(placed, film.dtype)
    diagnosis = diagnose(placed, locator=locator, spacing=(spacing, spacing),
                         candidate_threshold=candidate_threshold)
    margin = hit_margin(spacing)
    hit = next((n for n, c in diagnosis.called() if hits(c, truth, margin)), None)
    return Trial(placed, truth, diagnosis, hit)


def trial_picture(display: np.ndarray, trial: Trial) -> np.ndarray:
    """The film as shown (uint8) with the model's called candidates and the true nodule's outline, a dashed ring
    in :data:`TRUTH_COLOR` just outside it."""
    picture = as_rgb(diagnosis_picture(display, trial.diagnosis))
    scale = picture.shape[1] / trial.film.shape[1]
    x, y = (v * scale for v in trial.truth.centre)
    radius = (trial.truth.radius or 3.0) * scale + max(3, round(picture.shape[1] / 160))
    thickness = max(1, round(picture.shape[1] / 320))
    for start in range(0, 360, 30):  # a dashed ring: twelve arcs
        cv2.ellipse(picture, (round(x), round(y)), (round(radius), round(radius)), 0, start, start + 18,
                    TRUTH_COLOR, thickness, cv2.LINE_AA)
    return picture
