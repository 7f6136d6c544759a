"""Choosing the models that answer an image (a classifier, a segmenter, a locator), the same on every page."""

from __future__ import annotations

from medlib.answers.files import fills
from medlib.gate.population import AGE_MODEL
from medlib.store.folders import StoredModel

# The models preselected for real films (and uploads) and for the synthetic demonstration films.
DEFAULTS = {"real": {"classifier": "cxr-pneumonia", "segmenter": "cxr-anatomy", "locator": "cxr-nodule"},
            "synthetic": {"classifier": "chest-classifier", "segmenter": "chest-lesions"}}
NONE = "none"


def model_choice(models: list[StoredModel], part: str, kind: str, label: str, column, key: str
                 ) -> StoredModel | None:
    """A select box in ``column`` of the models that can fill ``part``, starting on the default for ``kind`` of
    image (``real`` or ``synthetic``); ``None`` where the user picks none."""
    names = [m.name for m in models if fills(m.card, part)]
    options = [*names, NONE]
    wanted = DEFAULTS[kind].get(part, NONE)
    default = options.index(wanted) if wanted in options else 0
    chosen = column.selectbox(label, options, index=default, key=f"{key}_{part}_{kind}")
    return next((m for m in models if m.name == chosen), None)


def age_model(models: list[StoredModel], *entries: StoredModel | None) -> StoredModel | None:
    """The model that tells a child's film from an adult's, where one of ``entries`` names the ages it learned from
    (its answer then says whether the film is of its population); else ``None``."""
    if not any(entry is not None and entry.card.ages for entry in entries):
        return None
    return next((m for m in models if m.name == AGE_MODEL), None)
