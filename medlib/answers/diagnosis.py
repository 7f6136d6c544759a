"""What the models say about one film (:class:`Diagnosis`): class probabilities, maps, outlines, measurements and
located candidates, with the gate's verdict; what ``medlib diagnose`` prints of it, and which candidates it calls.
Made by :func:`medlib.answers.diagnose.diagnose`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medlib.gate.population import PopulationFit
from medlib.gate.signals import GateResult
from medlib.targets import Finding


@dataclass
class Diagnosis:
    """What the models say about one image; maps are at the image's own size.

    ``gate`` says whether the image is like those the models learned from; where it is not, the class
    probabilities are no finding (:attr:`predicted` is ``None``), and no heat map is made.
    """

    class_names: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    decision_threshold: float | None = None
    heat: np.ndarray | None = None
    lesion_probability: np.ndarray | None = None
    lesions: list[dict[str, Any]] = field(default_factory=list)
    gate: GateResult = field(default_factory=GateResult)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    heat_on_input: bool = False
    lesions_on_input: bool = False
    image_size: tuple[int, int] | None = None
    """The image's (height, width); the findings are in its pixels, the maps may be smaller (``work_side``)."""
    structures: list[str] = field(default_factory=list)
    """A segmenter of several structures: their names (values 1..K of :attr:`label_map`)."""
    label_map: np.ndarray | None = None
    """Its label map (at the size of the other maps), each pixel its most probable structure or 0."""
    structure_areas: dict[str, dict[str, float]] = field(default_factory=dict)
    unreliable: dict[str, str] = field(default_factory=dict)
    """The outlined structures that fail a plausibility check (:mod:`medlib.scoring.plausibility`), each with why;
    no measurement rests on them."""
    measurements: dict[str, Any] = field(default_factory=dict)
    """What the anatomy gives (the cardiothoracic ratio, :mod:`medlib.answers.anatomy`)."""
    candidates: list[Finding] = field(default_factory=list)
    """A locating model's candidates, best first (numbered from 1 in this order), in the image's pixels, each with
    its score (its calibrated probability) and the lung and zone where the anatomy places it."""
    spacing: tuple[float, float] | None = None
    """mm a pixel of the image (rows, columns), where known: the findings' sizes in mm."""
    call_threshold: float | None = None
    """The score from which a candidate is called, where the user chose it (:meth:`at`); else the model's own."""
    finding_probability: float | None = None
    """The locating model's calibrated probability that the image holds a finding (its best candidate's)."""
    finding_threshold: float | None = None
    """The score at which the locating model calls a candidate (its card's, chosen on validation)."""
    detections: bool = True
    """Whether the candidates are detections (:attr:`medlib.store.card.ModelCard.detects`), else evidence only."""
    lesion_kind: str = "lesion"
    """What a one-structure segmenter's :attr:`lesions` are (``lesion``, ``lung field``...)."""
    population: dict[str, PopulationFit] = field(default_factory=dict)
    """By part (``classifier``, ``segmenter``, ``locator``): whether the model learned from films like this one,
    where its card and the film's age group say (:mod:`medlib.gate.population`)."""

    def fits(self, part: str) -> bool:
        """Whether the model of ``part`` answers for this film: not where its card names the other age group."""
        return part not in self.population or self.population[part].fits

    @property
    def likeliest(self) -> str | None:
        """The class the classifier picks (class 1 of two from the card's threshold), whatever the gate says."""
        if not self.probabilities:
            return None
        if self.decision_threshold is not None and len(self.probabilities) == 2:
            return self.class_names[int(self.probabilities[1] >= self.decision_threshold)]
        return self.class_names[int(np.argmax(self.probabilities))]

    @property
    def predicted(self) -> str | None:
        """The finding: the likeliest class of an image the gate lets through and the classifier learned to read
        (:meth:`fits`), else ``None``."""
        return self.likeliest if self.gate.in_distribution and self.fits("classifier") else None

    @property
    def candidate_threshold(self) -> float | None:
        """The score from which a candidate is called: the user's (:meth:`at`), else the locating model's own."""
        return self.finding_threshold if self.call_threshold is None else self.call_threshold

    def at(self, threshold: float | None) -> Diagnosis:
        """This diagnosis with candidates called from ``threshold`` (``None``: the model's own); given once, it
        holds for the picture, the tables, the report and the DICOM SR alike."""
        return dataclasses.replace(self, call_threshold=threshold)

    def called(self) -> list[tuple[int, Finding]]:
        """The candidates called (score at least :attr:`candidate_threshold`), with their numbers; none where the
        locating model learned from other films (:meth:`fits`)."""
        cut = self.candidate_threshold if self.fits("locator") else None
        return [(n, c) for n, c in enumerate(self.candidates, 1) if cut is not None and c.score >= cut]

    def candidate_row(self, number: int, candidate: Finding) -> dict[str, Any]:
        """What ``medlib diagnose`` prints of one candidate: its number, kind (label), score, centre, radius and
        the box around its circle in the image's pixels, the lung and zone, and its size in mm where known."""
        (x, y), size = candidate.centre, candidate.radius or 0.0
        diameter = candidate.size_mm(self.spacing)
        box = [round(x - size), round(y - size), round(x + size), round(y + size)]
        return {"candidate": number, "kind": candidate.label, "score": candidate.score, "centre": [x, y],
                "radius_px": round(size, 1), "box": box, "lung": candidate.structure, "zone": candidate.zone,
                "size_mm": None if diameter is None else round(diameter, 1)}

    def to_dict(self) -> dict[str, Any]:
        """What ``python -m medlib diagnose`` prints for one image (maps left out): the findings are the called
        candidates (as ``evidence`` unless :attr:`detections`) and the lesions, where the gate lets the image in."""
        shown = self.gate.in_distribution
        rows = [self.candidate_row(n, c) for n, c in self.called()] if shown else []
        lesions = [{"kind": self.lesion_kind, **f} for f in self.lesions] if shown else []
        findings = (rows if self.detections else []) + lesions
        out = {"probabilities": dict(zip(self.class_names, self.probabilities, strict=True)),
               "predicted": self.predicted, "threshold": self.decision_threshold, **self.gate.to_dict(),
               "findings": findings, "notes": self.notes, "model_seconds": round(self.seconds, 3)}
        if self.finding_probability is not None:
            out["finding_probability"] = self.finding_probability if shown else None
            out["finding_threshold"] = self.finding_threshold
            if not self.detections:
                out["evidence"] = rows
        if self.population:
            out["population_fit"] = {part: fit.to_dict() for part, fit in self.population.items()}
        if self.structures:
            out["structures"] = self.structure_areas if shown else {}
            out["measurements"] = self.measurements if shown else {}
            out["unreliable_outlines"] = self.unreliable if shown else {}
        return out
