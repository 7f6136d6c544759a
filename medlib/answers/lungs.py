"""The lung fields of films as an anatomy model outlines them: where simulated nodules may be placed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medlib.errors import ModelError


def lung_field(film: np.ndarray, model: Any) -> np.ndarray:
    """One film's lung fields (H×W bool, at the film's size) as a loaded segmenter outlines them: its structures
    named as lungs, or its one structure where it outlines only the lungs (``lung field``)."""
    import cv2

    from medlib.answers.diagnose import diagnose

    structures = model.card.structures
    lungs = [k + 1 for k, name in enumerate(structures) if "lung" in name.lower()]
    if not lungs:
        raise ModelError(f"{model.stored.name} outlines {', '.join(structures) or 'nothing'}, no lungs; use a model "
                         "that outlines the lungs (models/cxr-anatomy, models/cxr-lungs)")
    result = diagnose(film, segmenter=model)
    fields = np.isin(result.label_map, lungs) if result.label_map is not None else \
        np.asarray(result.lesion_probability) >= 0.5
    return cv2.resize(fields.astype(np.uint8), film.shape[1::-1], interpolation=cv2.INTER_NEAREST).astype(bool)


def outlined_lungs(films: Any, model_dir: str | Path) -> list[np.ndarray]:
    """Each film's lung fields as an anatomy model outlines them (:func:`lung_field`)."""
    from medlib.models.loaded import open_model

    model = open_model(model_dir)
    return [lung_field(film, model) for film in films.images]
