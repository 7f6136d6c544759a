"""Whether a film comes from the population a model learned from: a child's film or an adult's, against the
``ages`` of a model's card. The film's group comes from its DICOM PatientAge where the file gives one
(:func:`medlib.input.deid.age_group`), else from a model that tells a child's chest film from an adult's (the
shipped ``cxr-age``). A model whose card names the other group answers, but its answer is no finding: the page
leaves it out of the headline, the report out of its conclusion, the SR does not write it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

AGE_MODEL = "cxr-age"
"""The shipped model that tells a child's chest film from an adult's."""
WORDS = {"child": "a child's", "adult": "an adult's"}
PLURAL = {"child": "children's", "adult": "adults'"}


@dataclass(frozen=True)
class FilmAge:
    """The film's age group and where it comes from (the file's PatientAge, or the age model with its probability)."""

    group: str
    source: str


@dataclass(frozen=True)
class PopulationFit:
    """Whether one model's answer is for this film, and why, in a sentence."""

    model: str
    fits: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "fits": self.fits, "reason": self.reason}


def film_age(image: np.ndarray, metadata: Mapping[str, Any] | None, age_model: Any | None) -> FilmAge | None:
    """The film's age group: the file's (``AgeGroup``, from its PatientAge), else the age model's at its own
    threshold (``None`` where neither is there)."""
    if (metadata or {}).get("AgeGroup") in WORDS:
        return FilmAge(str(metadata["AgeGroup"]), "the file's patient age")
    if age_model is None:
        return None
    from medlib.models.loaded import check_input
    from medlib.scoring.probabilities import as_probabilities

    processed = age_model.pipeline.run(image)
    check_input(age_model, processed.image, "this film", "choose another age model")
    probabilities = as_probabilities(np.asarray(age_model.model.predict_on_batch(processed.image[None])))[0]
    names = list(age_model.card.class_names)
    chosen = names[int(probabilities[1] >= age_model.threshold)] if len(names) == 2 else names[
        int(np.argmax(probabilities))]
    if chosen not in WORDS:
        return None
    return FilmAge(chosen, f"{age_model.stored.name}, {probabilities[names.index(chosen)]:.0%}")


def population_fit(card: Any, age: FilmAge | None) -> PopulationFit | None:
    """Whether ``card``'s model learned from films like this one (``None`` where its card or the film's age says
    nothing)."""
    if age is None or not card.ages:
        return None
    if card.ages == age.group:
        return PopulationFit(card.name, True, f"{WORDS[age.group]} film ({age.source}), as {card.name} learned from")
    return PopulationFit(card.name, False, f"{WORDS[age.group]} film ({age.source}); {card.name} learned from "
                                           f"{PLURAL[card.ages]} films ({card.population or 'no more is known'})")
