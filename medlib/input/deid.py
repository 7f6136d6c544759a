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
    "ViewPosition",
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


ADULT_FROM_YEARS = 18


def age_group(patient_age: Any) -> str | None:
    """``child`` or ``adult`` from a DICOM PatientAge (``nnnD``, ``nnnW``, ``nnnM`` or ``nnnY``), adult from
    :data:`ADULT_FROM_YEARS`; ``None`` where it is missing or unreadable. Only the group leaves a reader, never the
    age (an age over 89 identifies, PS3.15).

    >>> [age_group(v) for v in ("045Y", "004Y", "018M", "", "12X")]
    ['adult', 'child', 'child', None, None]
    """
    text = str(patient_age or "").strip().upper()
    if len(text) < 2 or not text[:-1].isdigit() or text[-1] not in "DWMY":
        return None
    years = int(text[:-1]) / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[text[-1]]
    return "adult" if years >= ADULT_FROM_YEARS else "child"


def safe_dicom_metadata(dataset: Any) -> dict[str, Any]:
    """The whitelisted technical tags of a pydicom dataset, as plain values, and the patient's age group
    (``AgeGroup``, :func:`age_group`) where the file gives an age.

    >>> from pydicom import Dataset
    >>> ds = Dataset(); ds.Modality = "CT"; ds.PatientName = "Doe^John"; ds.PatientAge = "067Y"
    >>> safe_dicom_metadata(ds)
    {'Modality': 'CT', 'AgeGroup': 'adult'}
    """
    out: dict[str, Any] = {}
    for keyword in SAFE_DICOM_KEYWORDS:
        value = dataset.get(keyword)
        if value is None or value == "":
            continue
        out[keyword] = _plain(value)
    if (group := age_group(dataset.get("PatientAge"))) is not None:
        out["AgeGroup"] = group
    return out
