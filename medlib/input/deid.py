"""De-identification: the only DICOM tags that ever leave a reader.

A whitelist, not a blacklist: patient names, IDs, dates of birth, accession
numbers, institution and physician names (DICOM PS3.15 basic profile) and
every private tag are dropped because they are not on it.
"""

from __future__ import annotations

from typing import Any

#: DICOM keywords that are technical, not personal, and may be shown or stored.
SAFE_DICOM_KEYWORDS: tuple[str, ...] = (
    "Modality",
    "BodyPartExamined",
    "StudyDescription",
    "ManufacturerModelName",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "WindowCenter",
    "WindowWidth",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
)


def _plain(value: Any) -> Any:
    """A DICOM element value as plain JSON-ready Python."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def safe_dicom_metadata(dataset: Any) -> dict[str, Any]:
    """The whitelisted technical tags of a pydicom dataset, as plain values.

    >>> from pydicom import Dataset
    >>> ds = Dataset(); ds.Modality = "CT"; ds.PatientName = "Doe^John"
    >>> safe_dicom_metadata(ds)
    {'Modality': 'CT'}
    """
    out: dict[str, Any] = {}
    for keyword in SAFE_DICOM_KEYWORDS:
        value = dataset.get(keyword)
        if value is None or value == "":
            continue
        out[keyword] = _plain(value)
    return out
