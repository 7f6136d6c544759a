"""A model's card: what it is (task, classes or structures, input), what it learned from (modality, body part,
population, data set), how it was trained and how well it does, typed and read by attribute.

The card is ``card.json`` beside ``model.keras`` in the store (:mod:`medlib.store.folders`). Cards written before a
field existed read with its default; keys this version does not know are kept (``extra``) and written back.

>>> card = ModelCard.from_dict({"task": "segment", "architecture": "unet", "input_shape": [64, 64, 1],
...                             "class_names": ["background", "right lung", "left lung"]})
>>> card.structures, card.dimensions, card.threshold_value
(['right lung', 'left lung'], 2, 0.5)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from medlib.errors import StoreError
from medlib.tasks import Task, task_for

INTENDED_USE = "Research and education only. Not a medical device; not for clinical decisions."
SYNTHETIC_USE = "SYNTHETIC training data: a demonstration model, not for clinical use."
AGES = ("", "child", "adult")
"""Whose films a model learned from: any (or unknown), children's, or adults'."""
DETECTS_FROM = 0.5
"""The share of findings a locating model's candidates must hit on validation images at one false candidate an
image (its FROC) before its candidates are detections; below it they are evidence (:attr:`ModelCard.detects`)."""

#: What a card's ``modality`` may be, with the DICOM ``Modality`` values a file of it may carry (a secondary
#: capture, OT or SC, says nothing either way).
MODALITIES: dict[str, tuple[str, ...]] = {
    "X-ray radiograph": ("CR", "DX", "DR", "RG", "OT", "SC"),
    "MRI": ("MR", "OT", "SC"),
    "CT": ("CT", "OT", "SC"),
    "photograph": ("XC", "OP", "ES", "OT", "SC"),
}
#: What a card's ``body_part`` may be, with the DICOM ``BodyPartExamined`` values that name it.
BODY_PARTS: dict[str, tuple[str, ...]] = {
    "chest": ("CHEST", "THORAX", "LUNG", "LUNGS", "PORT CHEST"),
    "brain": ("BRAIN", "HEAD", "HEADNECK", "SKULL"),
    "eye": ("EYE", "RETINA", "FUNDUS"),
}


@dataclass
class ModelCard:
    """The typed card of a stored model (see the module's docstring)."""

    task: str
    architecture: str
    input_shape: list[int]
    class_names: list[str]
    """A classifier's classes; a map model's ``background`` and then its structures (or finding labels)."""
    preprocess: dict[str, Any] | None = None
    augment: dict[str, Any] | None = None
    modality: str = ""
    """What kind of image it learned from (a key of :data:`MODALITIES`; empty where unknown)."""
    body_part: str = ""
    """Which part of the body (a key of :data:`BODY_PARTS`; empty where unknown)."""
    population: str = ""
    """Who the images are of, in words (``children aged 1 to 5``); shown beside every answer."""
    ages: str = ""
    """Whose films it learned from, as :data:`AGES` names them (``child`` or ``adult``; empty: any, or unknown): a
    film of the other group is outside its population (:mod:`medlib.gate.population`)."""
    positive_class: str = ""
    """A two-class classifier's finding (its probability is the one thresholded); empty for other models."""
    located_by: str = ""
    """How the model places its findings: ``map`` (a locating model's or a detector's own maps), ``heat map`` (a
    two-class classifier that learned from located findings of its finding: the peaks of its heat map), or
    nothing."""
    name: str = ""
    created: str = ""
    intended_use: str = INTENDED_USE
    description: str = ""
    provenance: str = ""
    license: str = ""
    citation: str = ""
    note: str = ""
    uploaded_from: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    gate: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    site: dict[str, Any] = field(default_factory=dict)
    """A model recalibrated for a site (:mod:`medlib.training.recalibrate`): the site set (name, films, date) and its
    check half's figures before and after."""
    structure_ranges: dict[str, Any] = field(default_factory=dict)
    """A segmenter of several structures: each one's share of the image and centre on its training films
    (:func:`medlib.scoring.plausibility.structure_ranges`), to judge its outlines on a new film."""
    versions: dict[str, str] = field(default_factory=dict)
    file: dict[str, Any] = field(default_factory=dict)
    """``name``, ``size`` and ``sha256`` of the model file, checked before it is loaded."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys of the card that this version of medlib does not know, kept as they were."""

    def __post_init__(self) -> None:
        task_for(self.task)  # an unknown task is refused here, not where it is first used
        if self.modality and self.modality not in MODALITIES:
            raise StoreError(f"the card's modality {self.modality!r} is unknown; use one of {', '.join(MODALITIES)}")
        if self.ages not in AGES:
            raise StoreError(f"the card's ages {self.ages!r} are unknown; use one of {', '.join(map(repr, AGES))}")
        if self.body_part and self.body_part not in BODY_PARTS:
            raise StoreError(f"the card's body part {self.body_part!r} is unknown; use one of "
                             f"{', '.join(BODY_PARTS)}")

    @property
    def spec(self) -> Task:
        """The card's task, from the registry."""
        return task_for(self.task)

    @property
    def structures(self) -> list[str]:
        """What a map model outlines (its class names after the background); empty for a classifier."""
        return self.spec.structures(self.class_names)

    @property
    def finding(self) -> str:
        """What the model locates (a locating model's first finding label, a heat-map classifier's finding), or
        empty where it locates nothing."""
        if self.located_by == "map":
            return self.structures[0] if self.structures else ""
        return self.positive_class if self.located_by == "heat map" else ""

    @property
    def detects(self) -> bool:
        """Whether its candidates are detections: its validation FROC shows them hitting at least
        :data:`DETECTS_FROM` of the findings at one false candidate an image. A model that has not shown it (a
        heat-map classifier whose peaks point at what moves its probability) gives evidence, never findings."""
        found = (self.metrics.get("val") or {}).get("sensitivity_at_1fp")
        return bool(self.finding) and found is not None and float(found) >= DETECTS_FROM

    @property
    def dimensions(self) -> int:
        """2 for images (H, W, C), 3 for volumes (D, H, W, C)."""
        return len(self.input_shape) - 1

    @property
    def pixel_mm(self) -> float | None:
        """The millimetres one pixel of the model's input spans on its training images (their spacing, scaled by
        the resize to the input, which keeps their aspect), or ``None`` where the training set gave no spacing."""
        spacing, size = self.dataset.get("spacing"), self.dataset.get("image_size")
        if not spacing or not size or self.dimensions != 2:
            return None
        ratio = max(float(n) / float(side) for n, side in zip(size, self.input_shape[:2], strict=False))
        return float(sum(spacing)) / len(spacing) * ratio

    @property
    def threshold_value(self) -> float:
        """A binary classifier's decision threshold on its finding's probability: the card's, else 0.5."""
        return float((self.threshold or {}).get("value", 0.5))

    @property
    def sha256(self) -> str:
        return str(self.file.get("sha256", ""))

    @property
    def size(self) -> int:
        return int(self.file.get("size", 0))

    @property
    def channels(self) -> int:
        """The channels of the images it learned from (the model's input's where the card does not say)."""
        return int(self.dataset.get("channels", self.input_shape[-1]))

    @property
    def headline(self) -> dict[str, Any]:
        """Its test metrics, else its validation metrics (what a list of models shows)."""
        return self.metrics.get("test") or self.metrics.get("val") or {}

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the unknown keys kept; empty optional facts left out."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "extra" or (value in ("", None, {}, []) and item.name not in _REQUIRED):
                continue
            out[item.name] = value
        return out | self.extra

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "the card") -> ModelCard:
        """A card from its JSON form; a card without its task, architecture, input or classes is refused."""
        known = {item.name for item in fields(cls)} - {"extra"}
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise StoreError(f"{where} lacks {', '.join(missing)}; the folder is not a finished model")
        typed = {key: value for key, value in data.items() if key in known}
        for key in ("modality", "body_part", "population", "positive_class", "located_by"):
            typed[key] = typed.get(key) or ""
        try:
            return cls(**typed, extra={k: v for k, v in data.items() if k not in known})
        except TypeError as exc:
            raise StoreError(f"{where} cannot be read ({exc}); the folder is not a finished model") from exc


_REQUIRED = ("task", "architecture", "input_shape", "class_names")


def card_for_bare_model(model: Any) -> ModelCard:
    """A minimal card for an uploaded ``.keras`` file without one: a model whose output is one vector per image is a
    classifier, one whose output has the input's rank is a segmenter (one sigmoid map per structure)."""
    shape = [int(v) for v in model.input_shape[1:]]
    outputs = int(model.output_shape[-1])
    if len(model.output_shape) == len(model.input_shape):
        return ModelCard("segment", model.name, shape, ["background", *(f"structure_{k + 1}" for k in range(outputs))],
                         note="uploaded without a card: preprocessing defaults to resizing to the model's input")
    classes = 2 if outputs == 1 else outputs
    return ModelCard("classify", model.name, shape, [f"class_{k}" for k in range(classes)],
                     note="uploaded without a card: preprocessing defaults to resizing to the model's input")
