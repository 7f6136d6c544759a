"""One image through a classifier, a segmenter and a locating model: class probabilities, heat map, outlines
(lesions, organs, or the named structures of a label map with what they measure) and located candidates.

Each model's card preprocessing is applied to the image; every map and point comes back onto the image as read
by inverting the record of that geometry (and of the working size). Pictures: :mod:`medlib.answers.picture`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from medlib.answers.anatomy import ANATOMY, cardiothoracic_ratio, place, view_of
from medlib.answers.diagnosis import Diagnosis
from medlib.display.drawing import shrink
from medlib.errors import ModelError
from medlib.gate.population import film_age, population_fit
from medlib.gate.profile import mask_statistics
from medlib.gate.signals import GateResult, image_signals
from medlib.geometry import Record, fit_record, xy_to_index
from medlib.models.heatmaps import METHODS, heatmaps
from medlib.models.loaded import LoadedModel, check_input
from medlib.models.predict import label_map, sliding_window
from medlib.preprocessing.pipeline import InputGeometry, Processed
from medlib.scoring.plausibility import implausible, main_part
from medlib.scoring.probabilities import as_probabilities
from medlib.scoring.segmentation import find_lesions, foreground, organ_outline


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
             candidate_threshold: float | None = None, age_model: LoadedModel | None = None) -> Diagnosis:
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
    ``age_model`` tells a child's film from an adult's where the file gives no age, so that a model is judged on
    the population it learned from (:attr:`Diagnosis.population`).
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
    age = film_age(image, metadata, age_model) if any(m.card.ages for m in models) else None
    for part, model in (("classifier", classifier), ("segmenter", segmenter), ("locator", locator)):
        if model is not None and (fit := population_fit(model.card, age)) is not None:
            result.population[part] = fit
    if classifier is not None:
        classified, classifier_input = _classify(classifier, image, result, signals)
    if segmenter is not None:
        _segment(segmenter, image, result, signals, threshold, spacing, work, view_of(metadata))
    if locator is not None:
        _locate(locator, image, result, spacing, work)
    result.gate = GateResult(signals)
    if classifier is not None and result.predicted is not None:  # no heat map where there is no finding
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
             threshold: float, spacing: tuple[float, float] | None, work: Record, view: str | None) -> None:
    """A segmenter's outline (and the gate's ``shape`` signal): one structure's probability map and its pieces,
    or several structures' label map, their areas, which of them are implausible, and what the anatomy measures
    on the plausible ones (on a film of ``view``, PA or AP, where known)."""
    segmented = _model_input(segmenter, image, spacing, result.notes)
    maps = sliding_window(segmenter.model, segmented.image, mirrors=segmenter.mirrors)
    probability = foreground(maps)
    if (profile := segmenter.profile("shape")) is not None:
        signals["shape"] = float(profile.score(mask_statistics(probability))[0])
    structures = segmenter.card.structures
    if len(structures) > 1:
        labels = label_map(maps, threshold)
        parts = {name: main_part(labels == value) for value, name in enumerate(structures, start=1)}
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
        result.unreliable = implausible(back, structures, segmenter.card.structure_ranges, parts)
        measured = [name for name in ANATOMY if name in result.unreliable]
        if measured:
            result.notes.append(f"no cardiothoracic ratio: the outline of the {' and the '.join(measured)} is "
                                "unreliable on this film")
            return
        ratio = cardiothoracic_ratio(back, structures, spacing[1] if spacing else None, view)
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
