"""One image through a classifier, a segmenter and a locating model: class probabilities, heat map, outlines
(lesions, organs, or the named structures of a label map with what they measure) and located candidates.

Each model's card preprocessing is applied to the image; every map and point comes back onto the image as read
by inverting the record of that geometry (and of the working size). Pictures: :mod:`medlib.answers.picture`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medlib.answers.anatomy import cardiothoracic_ratio, place
from medlib.display.drawing import shrink
from medlib.errors import ModelError
from medlib.gate.profile import mask_statistics
from medlib.gate.signals import GateResult, image_signals
from medlib.geometry import Record, fit_record, xy_to_index
from medlib.models.heatmaps import METHODS, heatmaps
from medlib.models.loaded import LoadedModel, check_input
from medlib.models.predict import label_map, sliding_window
from medlib.preprocessing.pipeline import InputGeometry, Processed
from medlib.scoring.probabilities import as_probabilities
from medlib.scoring.segmentation import find_lesions, foreground, organ_outline
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
        """The finding: the likeliest class of an image the gate lets through, else ``None``."""
        return self.likeliest if self.gate.in_distribution else None

    @property
    def candidate_threshold(self) -> float | None:
        """The score from which a candidate is called: the user's (:meth:`at`), else the locating model's own."""
        return self.finding_threshold if self.call_threshold is None else self.call_threshold

    def at(self, threshold: float | None) -> Diagnosis:
        """This diagnosis with candidates called from ``threshold`` (``None``: the model's own); given once, it
        holds for the picture, the tables, the report and the DICOM SR alike."""
        return dataclasses.replace(self, call_threshold=threshold)

    def called(self) -> list[tuple[int, Finding]]:
        """The candidates called (score at least :attr:`candidate_threshold`), with their numbers."""
        cut = self.candidate_threshold
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
        if self.structures:
            out["structures"] = self.structure_areas if shown else {}
            out["measurements"] = self.measurements if shown else {}
        return out


def _on_image(values: np.ndarray, geometry: InputGeometry, notes: list[str], what: str) -> tuple[np.ndarray, bool]:
    """A map at the model input brought back onto the image by undoing the preprocessing's recorded geometry, and
    whether it had to stay on the model input instead (a cropping pipeline: what lay outside was never seen)."""
    back = geometry.to_input(values)
    if back is None:
        notes.append(f"the {what} is shown on the cropped model input: its preprocessing crops the image")
        return np.clip(values, 0.0, 1.0), True
    return np.clip(back, 0.0, 1.0), False


def _model_input(loaded: LoadedModel, image: np.ndarray, spacing: tuple[float, float] | None,
                 notes: list[str]) -> Processed:
    """The model's preprocessing of ``image`` (:meth:`LoadedModel.pipeline_for`, its caveat added to ``notes``),
    with its geometry, checked against what the model takes."""
    pipeline, note = loaded.pipeline_for(image.shape, spacing)
    notes.extend([note] if note else [])
    processed = pipeline.run(image)
    check_input(loaded, processed.image, f"this {image.shape[-1]}-channel image", "choose another model")
    return processed


def _findings_back(findings: list[dict[str, Any]], record: Record, size: tuple[int, int]) -> list[dict[str, Any]]:
    """Findings measured after ``record`` (boxes, centres, areas), brought back onto the image of ``size`` (height,
    width) it started from by inverting the record."""
    if not record.steps:
        return findings
    back = []
    for finding in findings:
        x0, y0, x1, y1 = finding["box"]
        points = record.restore_points(xy_to_index(np.array([[x0, y0], [x1, y1], finding["centre"]], float)), size)
        (top, left), (bottom, right), (row, column) = points
        back.append({**finding, "box": [round(left), round(top), round(right), round(bottom)],
                     "area_px": round(finding["area_px"] / record.factor() ** 2),
                     "centre": [round(column, 1), round(row, 1)]})
    return back


def diagnose(image: np.ndarray, classifier: LoadedModel | None = None, segmenter: LoadedModel | None = None,
             spacing: tuple[float, float] | None = None, method: str = METHODS[0], threshold: float = 0.5,
             metadata: dict[str, Any] | None = None, work_side: int | None = None,
             source_size: tuple[int, int] | None = None, locator: LoadedModel | None = None,
             candidate_threshold: float | None = None) -> Diagnosis:
    """Classify, segment and search one image (H×W×C as read), and judge whether it is like the models' training
    images.

    ``spacing`` (mm per pixel: rows, columns) gives the findings' areas in mm² and sizes in mm; ``threshold`` is the
    segmenter's; ``metadata``, a DICOM file's de-identified tags, lets the gate read its modality and body part.
    A binary classifier decides at the threshold its card records (chosen on validation). A segmenter of several
    structures gives a label map (and, for the lungs and the heart, the cardiothoracic ratio); a locating model
    gives ranked candidates, placed in a lung and zone by that label map.
    ``work_side`` shrinks a larger image first (its long side to that many pixels, by area averaging, as the
    models' own resizing does): the maps come back at that size, the findings still in the image's pixels. A
    front end that shows a full-size film on a screen needs no more, and is spared the maps at 20 megapixels.
    ``source_size``: the (height, width) of the file where ``image`` was decoded from it at a reduced scale
    (:attr:`MedImage.source_size`); the findings and ``spacing`` are then in the file's pixels.
    ``candidate_threshold``: the score from which the user calls a candidate (by default the locating model's own):
    given here once, it holds for everything made of the diagnosis (:meth:`Diagnosis.called`).
    """
    started = time.perf_counter()
    result = Diagnosis(image_size=source_size or (int(image.shape[0]), int(image.shape[1])), spacing=spacing,
                       call_threshold=candidate_threshold)
    image, _ = shrink(image, work_side)
    work = fit_record(result.image_size, image.shape[:2], keep_aspect=False)  # from the file's pixels to these
    if spacing is not None:
        spacing = (spacing[0] / work.factor(), spacing[1] / work.factor())
    models = [m for m in (classifier, segmenter, locator) if m is not None]
    for model in (m for m in models if m.card.dimensions != 2):
        raise ModelError(f"{model.stored.name} takes volumes, not a 2-D image: give it a NIfTI volume or a DICOM "
                         "series (medlib.answers.volume_diagnose)")
    signals = image_signals(image, any(m.gray for m in models), metadata, [m.card for m in models])
    if classifier is not None:
        classified, classifier_input = _classify(classifier, image, result, signals)
    if segmenter is not None:
        _segment(segmenter, image, result, signals, threshold, spacing, work)
    if locator is not None:
        _locate(locator, image, result, spacing, work)
    result.gate = GateResult(signals)
    if classifier is not None and result.gate.in_distribution:
        chosen = result.class_names.index(result.likeliest)
        heat = heatmaps(classifier.model, classifier_input, chosen, method=method)[0]
        result.heat, result.heat_on_input = _on_image(heat, classified.geometry, result.notes, "heat map")
    result.seconds = time.perf_counter() - started
    return result


def _classify(classifier: LoadedModel, image: np.ndarray, result: Diagnosis,
              signals: dict[str, float]) -> tuple[Processed, np.ndarray]:
    """The class probabilities (and the gate's ``features`` signal); the classifier's input and its geometry."""
    classified = _model_input(classifier, image, None, result.notes)
    classifier_input = classified.image[None]
    probe, profile = classifier.probe, classifier.profile("features")
    if probe is not None:
        features, raw = (np.asarray(v) for v in probe.predict_on_batch(classifier_input))
        if profile is not None:
            signals["features"] = float(profile.score(features)[0])
    else:
        raw = np.asarray(classifier.model.predict_on_batch(classifier_input))
    probabilities = as_probabilities(raw)[0]
    result.class_names = classifier.class_names or [f"class {k}" for k in range(probabilities.size)]
    result.probabilities = [round(float(p), 4) for p in probabilities]
    result.decision_threshold = classifier.threshold if probabilities.size == 2 else None
    return classified, classifier_input


def _segment(segmenter: LoadedModel, image: np.ndarray, result: Diagnosis, signals: dict[str, float],
             threshold: float, spacing: tuple[float, float] | None, work: Record) -> None:
    """A segmenter's outline (and the gate's ``shape`` signal): one structure's probability map and its pieces,
    or several structures' label map, their areas and what the anatomy measures."""
    segmented = _model_input(segmenter, image, spacing, result.notes)
    maps = sliding_window(segmenter.model, segmented.image, mirrors=segmenter.mirrors)
    probability = foreground(maps)
    if (profile := segmenter.profile("shape")) is not None:
        signals["shape"] = float(profile.score(mask_statistics(probability))[0])
    structures = segmenter.card.structures
    if len(structures) > 1:
        labels = label_map(maps, threshold)
        for value in range(1, len(structures) + 1):  # each structure one organ: its stray pieces dropped
            labels[(labels == value) & ~organ_outline(labels == value)] = 0
        back = segmented.geometry.to_input(labels, nearest=True)
        if back is None:
            result.notes.append("the structures are not outlined: the segmenter's preprocessing crops the image")
            return
        result.structures, result.label_map = list(structures), back.astype(np.uint8)
        area = (spacing[0] * spacing[1]) if spacing else None
        for value, name in enumerate(structures, start=1):
            pixels = int((back == value).sum()) / work.factor() ** 2
            result.structure_areas[name] = {"area_px": round(pixels)} | (
                {"area_mm2": round(pixels * area * work.factor() ** 2, 1)} if area else {})
        ratio = cardiothoracic_ratio(back, structures, spacing[1] if spacing else None)
        if ratio is not None:
            result.measurements = ratio
        return
    result.lesion_kind = segmenter.target
    if segmenter.target != "lesion":
        # On the model's map (fast at any size): holes count as the organ just above the threshold; strays as nothing
        kept = organ_outline(probability >= threshold)
        probability = np.where(kept, np.maximum(probability, threshold + 1e-4), 0.0).astype(np.float32)
    result.lesion_probability, result.lesions_on_input = _on_image(probability, segmented.geometry, result.notes,
                                                                   f"{segmenter.target} map")
    result.lesions = find_lesions(result.lesion_probability, threshold, None if result.lesions_on_input else spacing)
    if not result.lesions_on_input:
        result.lesions = _findings_back(result.lesions, work, result.image_size)


def _locate(locator: LoadedModel, image: np.ndarray, result: Diagnosis, spacing: tuple[float, float] | None,
            work: Record) -> None:
    """A locating model's candidates (:attr:`medlib.store.card.ModelCard.located_by`), brought back onto the image
    (the preprocessing's record, then the working size's) with their calibrated scores, lung and zone, size in mm."""
    located = _model_input(locator, image, spacing, result.notes)
    record = located.geometry.record
    found = locator.task.candidates(locator, located)
    result.finding_threshold, result.detections = locator.threshold, locator.card.detects
    result.finding_probability = round(max((c.score for c in found), default=0.0), 4)
    for candidate in sorted(found, key=lambda c: -c.score):
        (row, column), = record.restore_points(xy_to_index(np.array([candidate.centre])), image.shape[:2])
        where = (place((column, row), result.label_map, result.structures, spacing[1] if spacing else None)
                 if result.label_map is not None else None) or (None, None)
        (top, left), = work.restore_points(np.array([[row, column]]), result.image_size)
        result.candidates.append(dataclasses.replace(
            candidate, centre=(round(float(left), 1), round(float(top), 1)),
            radius=candidate.radius / record.factor() / work.factor(), score=round(candidate.score, 4),
            structure=where[0], zone=where[1]))
    if not any(c.score >= locator.threshold for c in result.candidates):  # the model's own, whatever the user's
        result.notes.append(f"no {locator.card.finding} candidate reaches the threshold "
                            f"({locator.threshold:.2f}) of {locator.stored.name}")
