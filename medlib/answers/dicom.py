"""Answers a hospital's systems read (``highdicom``): a DICOM Segmentation (SEG) of the label map a segmenter gives
(one segment per structure, coded) and a Comprehensive 3D Structured Report (SR, template TID 1500) of the findings
and measurements, both citing the source image (:mod:`medlib.answers.dicom_sources`).

The SR holds: each located candidate as a planar region (a circle) with its calibrated score, its size in mm and its
finding site (the lung, with the zone as a topographical modifier); each lesion as its bounding box with its area;
each structure of the label map as a reference to its SEG segment with its area in mm² (a film) or volume in mL (a
volume); the cardiothoracic ratio; each class's probability with whether the classifier calls it. Each group names
the model (its name and a version made of its card's date and weights' hash, and its decision threshold). The
disclaimer rides in the series description of both objects.

An image the gate refuses gets no SEG or SR: its answers are no finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from medlib import __version__
from medlib.answers import dicom_codes as dc
from medlib.answers.diagnosis import Diagnosis
from medlib.answers.dicom_sources import MANUFACTURER, Sources
from medlib.answers.dicom_writing import segments_by_number, to_file
from medlib.answers.volume_diagnose import VolumeDiagnosis
from medlib.store.card import ModelCard

DISCLAIMER = "research tool, not for diagnosis"
"""In each object's series description (64 characters at most: what a PACS list shows of it), after what made it:
the SEG's model and version, the SR's medlib version (its observer device names every model)."""


def series_description(maker: str) -> str:
    """A new series' description: its maker (shortened where it must be) and the whole disclaimer, in 64 characters.

    >>> series_description("cxr-anatomy 2026-12-06")
    'cxr-anatomy 2026-12-06: research tool, not for diagnosis'
    """
    return f"{maker[:62 - len(DISCLAIMER)]}: {DISCLAIMER}"


@dataclass
class DicomAnswer:
    """The objects written for one answer (``seg``, ``sr``, and ``image``: the Secondary Capture of an image that had
    no DICOM file to cite), each as a DICOM file's bytes, and what the reader should know of them."""

    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def version(card: ModelCard) -> str:
    """A model's version for a DICOM answer: the day its card was written and the start of its weights' hash."""
    return f"{card.created[:10] or 'undated'}+{str(card.file.get('sha256', ''))[:12] or 'unhashed'}"


def _algorithm(card: ModelCard, chosen: float | None = None) -> Any:
    """The model as the SR names it: its name, version and decision threshold (its own, chosen on validation),
    and the threshold the user chose to call candidates from (``chosen``), recorded as that."""
    import highdicom as hd

    parameters = [f"decision threshold={card.threshold_value:.4f}"] if card.threshold else []
    parameters += [] if chosen is None else [f"user's threshold={chosen:.4f}"]
    return hd.sr.AlgorithmIdentification(card.name or "model", version(card), parameters=parameters or None)


def write_seg(sources: Sources, labels: np.ndarray, structures: Sequence[str], card: ModelCard) -> Dataset:
    """A binary SEG of ``labels`` (frames×rows×columns, 0 background and 1..K the ``structures``; one frame per cited
    image), one segment per structure, every frame kept (empty ones too), citing ``sources``."""
    import highdicom as hd

    context = f"{card.name} {card.description}"
    algorithm = hd.AlgorithmIdentificationSequence(card.name or "model", dc.codes.DCM.ArtificialIntelligence,
                                                   version(card))
    segments = []
    for number, name in enumerate(structures, start=1):
        coded = dc.structure_codes(name, context)
        segment = hd.seg.SegmentDescription(number, name, coded.category, coded.type, "AUTOMATIC", algorithm)
        if coded.modifier is not None:
            segment.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
                hd.sr.CodedConcept.from_code(coded.modifier)]
        segments.append(segment)
    measures = None
    if sources.spacing is not None and "FrameOfReferenceUID" not in sources.images[0]:
        measures = hd.PixelMeasuresSequence(sources.spacing, 1.0)  # a film: its pixels' size, a nominal thickness
    seg = hd.seg.Segmentation(
        sources.images, np.asarray(labels, np.uint8), "BINARY", segments, generate_uid(), 2, generate_uid(), 1,
        MANUFACTURER, card.name or "model", version(card), "0", omit_empty_frames=False, pixel_measures=measures,
        content_label="STRUCTURES", content_description=f"structures outlined by {card.name}"[:64],
        series_description=series_description(f"{card.name or 'model'} {card.created[:10]}".strip()))
    if "FrameOfReferenceUID" not in seg:  # a film: its rows' and columns' directions, as the source states them
        seg.PatientOrientation = list(sources.images[0].get("PatientOrientation") or [])
    return seg


def image_region(sources: Sources, points: np.ndarray, kind: str) -> Any:
    import highdicom as hd

    cited = sources.images[0]
    return hd.sr.ImageRegion(kind, np.asarray(points, np.float32) + 0.5,  # pixel centres to image coordinates
                             hd.sr.SourceImageForRegion(cited.SOPClassUID, cited.SOPInstanceUID))


def _candidate_groups(result: Diagnosis, card: ModelCard, sources: Sources, scale: float) -> list[Any]:
    """Each candidate the model or the user calls: a circle with its score, size and site, present where the model's
    own threshold calls it, absent where only the user's lower one does (recorded beside it). The weaker peaks,
    which no one calls, are left out."""
    import highdicom as hd

    groups, own = [], result.finding_threshold if result.finding_threshold is not None else card.threshold_value
    shown = min(own, result.call_threshold) if result.call_threshold is not None else own
    for number, candidate in enumerate(result.candidates, 1):
        if candidate.score < shown:
            continue
        x, y = (v * scale for v in candidate.centre)
        radius = max(round(candidate.radius, 1) * scale, 1.0)
        measurements = [hd.sr.Measurement(dc.SCORE, candidate.score, dc.NO_UNITS)]
        if size := candidate.size_mm(result.spacing):
            measurements.append(hd.sr.Measurement(dc.codes.SCT.Diameter, round(size, 1), dc.MM))
        site = []
        if candidate.structure in dc.SIDES:
            site = [hd.sr.FindingSite(dc.codes.SCT.Lung, laterality=dc.SIDES[candidate.structure],
                                      topographical_modifier=dc.ZONES.get(candidate.zone or ""))]
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            hd.sr.TrackingIdentifier(generate_uid(), f"{candidate.label} candidate {number}"),
            referenced_region=image_region(sources, [[x, y], [x + radius, y]], "CIRCLE"),
            finding_type=dc.class_code(candidate.label), algorithm_id=_algorithm(card, result.call_threshold),
            finding_sites=site or None,
            measurements=measurements,
            qualitative_evaluations=[hd.sr.QualitativeEvaluation(
                dc.PRESENCE, dc.codes.SCT.Present if candidate.score >= own else dc.codes.SCT.Absent)]))
    return groups


def _lesion_groups(result: Diagnosis, card: ModelCard, sources: Sources, scale: float) -> list[Any]:
    """Each piece a one-structure segmenter found: its bounding box with its area."""
    import highdicom as hd

    groups = []
    for lesion in result.lesions:
        x0, y0, x1, y1 = (v * scale for v in lesion["box"])
        area = [hd.sr.Measurement(dc.codes.SCT.Area, lesion["area_mm2"], dc.SQUARE_MM)] if lesion.get("area_mm2") \
            else [hd.sr.Measurement(dc.codes.SCT.Area, lesion["area_px"] * scale ** 2, dc.PIXELS)]
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            hd.sr.TrackingIdentifier(generate_uid(), f"{result.lesion_kind} {lesion['finding']}"),
            referenced_region=image_region(sources, [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], "POLYLINE"),
            finding_type=dc.class_code(result.lesion_kind), algorithm_id=_algorithm(card), measurements=area))
    return groups


def _structure_groups(seg: Dataset, structures: Sequence[str], sizes: Mapping[str, dict[str, float]],
                      card: ModelCard, sources: Sources, volume: bool) -> list[Any]:
    """Each structure of the SEG: a reference to its segment with its area (a film) or volume (a volume)."""
    import highdicom as hd

    groups, context = [], f"{card.name} {card.description}"
    cited = sources.images[0]
    for number, name in enumerate(structures, start=1):
        size = sizes.get(name, {})
        tracking = hd.sr.TrackingIdentifier(generate_uid(), name)
        kind = dc.structure_codes(name, context).type
        if volume:
            segment = hd.sr.ReferencedSegment(seg.SOPClassUID, seg.SOPInstanceUID, number,
                                              source_series=hd.sr.SourceSeriesForSegmentation(cited.SeriesInstanceUID))
            groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking, referenced_segment=segment, finding_type=kind, algorithm_id=_algorithm(card),
                measurements=[hd.sr.Measurement(dc.codes.SCT.Volume, size.get("volume_ml", 0.0), dc.ML)]))
            continue
        frame = hd.sr.ReferencedSegmentationFrame(seg.SOPClassUID, seg.SOPInstanceUID, number, number,
                                                  hd.sr.SourceImageForSegmentation(cited.SOPClassUID,
                                                                                   cited.SOPInstanceUID))
        area = hd.sr.Measurement(dc.codes.SCT.Area, size["area_mm2"], dc.SQUARE_MM) if "area_mm2" in size \
            else hd.sr.Measurement(dc.codes.SCT.Area, size.get("area_px", 0), dc.PIXELS)
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking, referenced_segment=frame, finding_type=kind, algorithm_id=_algorithm(card),
            measurements=[area]))
    return groups


def _classification_groups(result: Diagnosis, card: ModelCard) -> list[Any]:
    """Each class: its probability, and whether the classifier calls it (at its card's threshold)."""
    import highdicom as hd

    return [hd.sr.MeasurementsAndQualitativeEvaluations(
        hd.sr.TrackingIdentifier(generate_uid(), f"{name} by {card.name}"), finding_type=dc.class_code(name),
        algorithm_id=_algorithm(card), measurements=[hd.sr.Measurement(dc.PROBABILITY, value, dc.NO_UNITS)],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(
            dc.PRESENCE, dc.codes.SCT.Present if name == result.predicted else dc.codes.SCT.Absent)])
        for name, value in zip(result.class_names, result.probabilities, strict=True)]


def _ratio_group(result: Diagnosis, card: ModelCard) -> list[Any]:
    import highdicom as hd

    ratio = result.measurements.get("cardiothoracic_ratio")
    if ratio is None:
        return []
    return [hd.sr.MeasurementsAndQualitativeEvaluations(
        hd.sr.TrackingIdentifier(generate_uid(), "cardiothoracic ratio"), algorithm_id=_algorithm(card),
        measurements=[hd.sr.Measurement(dc.CARDIOTHORACIC_RATIO, float(ratio), dc.RATIO)])]


def write_sr(sources: Sources, groups: list[Any], evidence: Sequence[Dataset],
             observers: Sequence[ModelCard]) -> Dataset:
    """A Comprehensive 3D SR (TID 1500) of the measurement ``groups``, observed by one device, medlib with every
    answering model of ``observers`` (its name lists them; each group names its own model and version), citing
    ``evidence`` (the source images and the SEG)."""
    import highdicom as hd

    names = [card.name or "model" for card in observers]
    models = [f"{name} {version(card)}" for name, card in zip(names, observers, strict=True)]
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        generate_uid(entropy_srcs=models), name=f"{MANUFACTURER}: {', '.join(names)}"[:64],
        manufacturer_name=MANUFACTURER, model_name=f"medlib {__version__}")
    context = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        dc.codes.DCM.Device, device))
    report = hd.sr.MeasurementReport(context, dc.codes.SCT.ImagingProcedure, groups)
    return segments_by_number(hd.sr.Comprehensive3DSR(list(evidence), report, generate_uid(), 3, generate_uid(),
                                                       1, manufacturer=MANUFACTURER,
                                                       series_description=series_description(f"medlib {__version__}")))


def dicom_answer(sources: Sources, result: Diagnosis | VolumeDiagnosis, cards: Mapping[str, ModelCard]) -> DicomAnswer:
    """The SEG (where a segmenter gave a label map or a lesion map) and the SR of one answer, citing ``sources``
    (:func:`medlib.answers.dicom_sources.answer_sources`); ``cards`` holds the models' cards by their part
    (:data:`medlib.answers.files.PARTS`); the candidates the diagnosis calls (:meth:`Diagnosis.called`) are
    present, the others absent. An image the gate refuses gets neither."""
    answer = DicomAnswer(notes=list(sources.notes))
    if not result.gate.in_distribution:
        answer.notes.append("the image is outside what the models learned from: no SEG or SR is written "
                            "(its answers are no finding)")
        return answer
    if sources.secondary_capture is not None:
        answer.files["image"] = to_file(sources.secondary_capture)
    volume = isinstance(result, VolumeDiagnosis)
    labels, structures = answer_labels(result, sources.size)
    groups: list[Any] = []
    evidence = list(sources.images)
    segmenter = cards.get("segmenter")
    if labels is not None and segmenter is not None:
        seg = write_seg(sources, labels, structures, segmenter)
        answer.files["seg"] = to_file(seg)
        evidence.append(seg)
        sizes = result.volumes if volume else result.structure_areas
        if sizes:
            groups += _structure_groups(seg, structures, sizes, segmenter, sources, volume)
    if not volume:
        scale = sources.size[0] / result.image_size[0] if result.image_size else 1.0
        if "classifier" in cards and result.probabilities and result.fits("classifier"):
            groups += _classification_groups(result, cards["classifier"])
        if segmenter is not None:
            groups += _ratio_group(result, segmenter) + _lesion_groups(result, segmenter, sources, scale)
        if "locator" in cards and result.fits("locator"):
            groups += _candidate_groups(result, cards["locator"], sources, scale) if result.detections else []
        answer.notes += [f"not written as a finding: {fit.reason}" for fit in result.population.values()
                         if not fit.fits]
    answer.files["sr"] = to_file(write_sr(sources, groups, evidence, list(cards.values())))
    return answer


def answer_labels(result: Diagnosis | VolumeDiagnosis, size: tuple[int, int]) -> tuple[np.ndarray | None, list[str]]:
    """The answer's label map as frames×rows×columns at ``size`` (rows, columns: the cited images'), and its
    structures' names: a segmenter's structures, or a one-structure segmenter's pieces above 0.5 (1); ``None``
    where it gave neither."""
    if isinstance(result, VolumeDiagnosis):
        return result.labels, list(result.structures)
    labels, structures = map_labels(result)
    if labels is None:
        return None, []
    rows, columns = size
    return cv2.resize(labels, (columns, rows), interpolation=cv2.INTER_NEAREST)[None], structures


def map_labels(result: Diagnosis) -> tuple[np.ndarray | None, list[str]]:
    """A film's answer as a label map at the size of its maps, and its structures' names: a segmenter's structures,
    or a one-structure segmenter's pieces above 0.5 (1); ``None`` where it gave neither."""
    if result.label_map is not None:
        return result.label_map, list(result.structures)
    if result.lesion_probability is not None and not result.lesions_on_input:
        return (result.lesion_probability >= 0.5).astype(np.uint8), [result.lesion_kind]
    return None, []
