"""A person's labels of one image as DICOM (``highdicom``): a SEG of their outlines, each segment of algorithm type
MANUAL, and a Comprehensive 3D SR (TID 1500) observed by a person, the labeller, holding each outlined structure as a
reference to its segment with its area, each circle as a planar region with its diameter, and the image's class as
present. Both cite the image: its DICOM file, or the Secondary Capture written for an image without one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from medlib import __version__
from medlib.answers import dicom_codes as dc
from medlib.answers.dicom import DicomAnswer, image_region, series_description
from medlib.answers.dicom_sources import MANUFACTURER, Sources, answer_sources
from medlib.answers.dicom_writing import segments_by_number, to_file
from medlib.input.image import MedImage
from medlib.labelling.labels import ImageLabels

LABELLER = "Labeller^medlib Annotate"
"""The person observer the SR names (a person name: the app knows no user's name)."""


def _seg(sources: Sources, label_map: np.ndarray, names: Sequence[str]) -> Dataset:
    import highdicom as hd

    segments = []
    for number, name in enumerate(names, start=1):
        coded = dc.structure_codes(name)
        segments.append(hd.seg.SegmentDescription(number, name, coded.category, coded.type, "MANUAL"))
    measures = None
    if sources.spacing is not None and "FrameOfReferenceUID" not in sources.images[0]:
        measures = hd.PixelMeasuresSequence(sources.spacing, 1.0)
    seg = hd.seg.Segmentation(
        sources.images, label_map[None], "BINARY", segments, generate_uid(), 2, generate_uid(), 1, MANUFACTURER,
        "medlib Annotate", __version__, "0", omit_empty_frames=False, pixel_measures=measures,
        content_label="LABELS", content_description="outlines drawn by a person",
        series_description=series_description("labels by hand"))
    if "FrameOfReferenceUID" not in seg:
        seg.PatientOrientation = list(sources.images[0].get("PatientOrientation") or [])
    return seg


def _structure_groups(seg: Dataset, label_map: np.ndarray, names: Sequence[str], sources: Sources) -> list[Any]:
    import highdicom as hd

    cited, groups = sources.images[0], []
    pixel_area = None if sources.spacing is None else sources.spacing[0] * sources.spacing[1]
    for number, name in enumerate(names, start=1):
        pixels = int((label_map == number).sum())
        area = hd.sr.Measurement(dc.codes.SCT.Area, pixels * pixel_area, dc.SQUARE_MM) if pixel_area \
            else hd.sr.Measurement(dc.codes.SCT.Area, pixels, dc.PIXELS)
        frame = hd.sr.ReferencedSegmentationFrame(seg.SOPClassUID, seg.SOPInstanceUID, number, number,
                                                  hd.sr.SourceImageForSegmentation(cited.SOPClassUID,
                                                                                   cited.SOPInstanceUID))
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            hd.sr.TrackingIdentifier(generate_uid(), name), referenced_segment=frame,
            finding_type=dc.structure_codes(name).type, measurements=[area]))
    return groups


def _circle_groups(labels: ImageLabels, sources: Sources, scale: float) -> list[Any]:
    import highdicom as hd

    groups = []
    for number, finding in enumerate(labels.findings, start=1):
        x, y = (v * scale for v in finding.centre)
        radius = max((finding.radius or 1.0) * scale, 1.0)
        measurements = []
        if sources.spacing is not None:
            measurements.append(hd.sr.Measurement(dc.codes.SCT.Diameter, round(2 * radius * sources.spacing[1], 1),
                                                  dc.MM))
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            hd.sr.TrackingIdentifier(generate_uid(), f"{finding.label} {number}"),
            referenced_region=image_region(sources, [[x, y], [x + radius, y]], "CIRCLE"),
            finding_type=dc.class_code(finding.label), measurements=measurements or None))
    return groups


def labels_dicom(image: MedImage, labels: ImageLabels, structures: Sequence[str], display: np.ndarray | None = None
                 ) -> DicomAnswer:
    """The SEG (where an outline was drawn) and the SR of ``labels`` on ``image`` (``display``: the image as
    shown, uint8 at its own size, for the Secondary Capture of an image without a DICOM file)."""
    import highdicom as hd

    sources = answer_sources(image, display)
    answer = DicomAnswer(notes=list(sources.notes))
    if sources.secondary_capture is not None:
        answer.files["image"] = to_file(sources.secondary_capture)
    rows, columns = sources.size
    full = cv2.resize(labels.label_map(structures), (columns, rows), interpolation=cv2.INTER_NEAREST)
    drawn = [(value, name) for value, name in enumerate(structures, 1) if (full == value).any()]
    evidence, groups = list(sources.images), []
    if drawn:
        label_map = np.zeros_like(full)
        for number, (value, _) in enumerate(drawn, start=1):
            label_map[full == value] = number
        names = [name for _, name in drawn]
        seg = _seg(sources, label_map, names)
        answer.files["seg"] = to_file(seg)
        evidence.append(seg)
        groups += _structure_groups(seg, label_map, names, sources)
    groups += _circle_groups(labels, sources, rows / labels.size[0])
    if labels.label is not None:
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            hd.sr.TrackingIdentifier(generate_uid(), f"class {labels.label}"), finding_type=dc.class_code(labels.label),
            qualitative_evaluations=[hd.sr.QualitativeEvaluation(dc.PRESENCE, dc.codes.SCT.Present)]))
    person = hd.sr.ObserverContext(dc.codes.DCM.Person, hd.sr.PersonObserverIdentifyingAttributes(LABELLER))
    report = hd.sr.MeasurementReport(hd.sr.ObservationContext(observer_person_context=person),
                                     dc.codes.SCT.ImagingProcedure, groups)
    sr = hd.sr.Comprehensive3DSR(evidence, report, generate_uid(), 3, generate_uid(), 1, manufacturer=MANUFACTURER,
                                 series_description=series_description("labels by hand"))
    answer.files["sr"] = to_file(segments_by_number(sr))
    return answer
