"""Detectability: at what size a locating model starts to find nodules. Over many simulated nodules placed one at a
time on normal films (:mod:`medlib.datasets.nodules`), the share it finds at one false positive per film, for each
diameter (and contrast), with a 95% Wilson interval.

The operating point comes from the films themselves: the score that the model's best false candidates on the normal
films reach once a film on average (one false positive per film); a simulated nodule counts as found where a
candidate at or above it hits the nodule (:func:`medlib.scoring.candidates.hits`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from medlib.datasets.nodules import Nodule, as_film, place_nodule
from medlib.scoring.candidates import hit_margin, hits
from medlib.targets import Finding, move_findings

DIAMETERS = (5.0, 10.0, 15.0, 20.0, 30.0)
"""The diameters (mm) a detectability curve visits by default."""


def wilson(found: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion ``found`` of ``total``.

    >>> [round(v, 3) for v in wilson(9, 10)]
    [0.596, 0.982]
    """
    if total == 0:
        return 0.0, 1.0
    p = found / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def candidates_on(loaded: Any, film: np.ndarray) -> tuple[list[Finding], Any]:
    """The model's candidates on one film (at the model's input) and the preprocessing's record."""
    processed = loaded.pipeline.run(film)
    return loaded.task.candidates(loaded, processed), processed.geometry.record


def operating_score(false_scores: Sequence[Sequence[float]], per_film: float = 1.0) -> float:
    """The score from which the normal films' candidates make ``per_film`` false positives a film on average.

    >>> operating_score([[0.9, 0.2], [0.5], [0.4, 0.3]])  # three films: the third-best false score and above
    0.4
    """
    every = np.sort(np.concatenate([np.asarray(s, float) for s in false_scores] + [np.zeros(0)]))[::-1]
    allowed = int(np.floor(per_film * len(false_scores)))
    return float(every[allowed - 1]) if 0 < allowed <= every.size else 0.0


def detectability(loaded: Any, films: Sequence[np.ndarray], lungs: Sequence[np.ndarray], nodules: Sequence[Nodule],
                  spacing: float, diameters: Sequence[float] = DIAMETERS, contrasts: Sequence[float] = (0.1,),
                  placements: int = 40, seed: int = 0,
                  progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """The detectability of ``loaded`` on normal ``films`` (with their ``lungs``, at ``spacing`` mm a pixel): for
    each diameter and contrast, ``placements`` nodules (a random nodule of ``nodules`` at a random place in the
    lungs of a film in turn), one at a time; the share found at one false positive per film with its interval."""
    false = [[c.score for c in candidates_on(loaded, film)[0]] for film in films]
    cut = operating_score(false)
    rng = np.random.default_rng(seed)
    rows, steps, done = [], len(diameters) * len(contrasts) * placements, 0
    for diameter in diameters:
        for contrast in contrasts:
            found = 0
            for k in range(placements):
                i = k % len(films)
                nodule = nodules[int(rng.integers(len(nodules)))]
                film, truth = place_nodule(films[i], lungs[i], nodule, spacing, contrast, rng, diameter_mm=diameter)
                film = as_film(film, films[i].dtype)
                candidates, record = candidates_on(loaded, film)
                moved = move_findings([truth], record, film.shape)[0]
                margin = hit_margin(spacing / record.factor())
                found += any(c.score >= cut and hits(c, moved, margin) for c in candidates)
                done += 1
                if progress is not None:
                    progress(done / steps)
            low, high = wilson(found, placements)
            rows.append({"diameter_mm": diameter, "contrast": contrast, "placements": placements, "found": found,
                         "sensitivity": round(found / placements, 4), "ci": [round(low, 4), round(high, 4)]})
    return {"operating_score": round(cut, 4), "films": len(films), "false_per_film": 1.0, "curve": rows}
