"""How an answer's DICOM objects are written: as files with the local coding scheme declared where they use it,
and what ``highdicom`` writes that the standard forbids put right before (:func:`segments_by_number`)."""

from __future__ import annotations

import io

from pydicom.dataset import Dataset

from medlib.answers import dicom_codes as dc


def to_file(dataset: Dataset) -> bytes:
    """The object as a DICOM file, the local coding scheme declared where it uses one."""
    if dc.LOCAL in designators(dataset):
        dataset.CodingSchemeIdentificationSequence = [Dataset()]
        for keyword, value in dc.LOCAL_SCHEME.items():
            setattr(dataset.CodingSchemeIdentificationSequence[0], keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def designators(dataset: Dataset) -> set[str]:
    """Every coding scheme designator the object's codes use, at any depth."""
    found: set[str] = set()
    for element in dataset.iterall():
        if element.keyword == "CodingSchemeDesignator" and element.value:
            found.add(str(element.value))
    return found


def segments_by_number(sr: Dataset) -> Dataset:
    """The SR's references to segments of a film's SEG by segment number alone: highdicom also writes the frame
    (one per segment there), which the standard forbids beside a segment number (PS3.3 C.18.3.1.2)."""
    for element in sr.iterall():
        if element.keyword == "ReferencedSOPSequence":
            for item in element.value:
                if "ReferencedSegmentNumber" in item and "ReferencedFrameNumber" in item:
                    del item.ReferencedFrameNumber
    return sr
