"""The codes a DICOM answer names its structures, findings and measurements with: SNOMED CT where the standard has
one (DICOM PS3.16), else a local code of this project's own scheme (``99MEDLIB``, a private scheme designator as
PS3.16 8.2 allows).

>>> structure_codes("right lung").type.meaning
'Right lung'
>>> structure_codes("anterior", "hippocampus, MRI").modifier.meaning
'Anterior'
>>> class_code("PNEUMONIA").value
'233604007'
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

LOCAL = "99MEDLIB"
"""This project's coding scheme, for what no standard scheme names."""
LOCAL_SCHEME = {"CodingSchemeDesignator": LOCAL, "CodingSchemeName": "medlib local codes",
                "CodingSchemeResponsibleOrganization": "the medlib project"}
"""How an object that uses :data:`LOCAL` declares it (its Coding Scheme Identification Sequence, PS3.3 C.12.1)."""

ANATOMY = codes.SCT.AnatomicalStructure
ABNORMAL = codes.SCT.MorphologicallyAbnormalStructure

# Each known structure name: its SEG category and type (SNOMED CT).
_STRUCTURES: dict[str, tuple[Code, Code]] = {
    "right lung": (ANATOMY, Code("3341006", "SCT", "Right lung")),
    "left lung": (ANATOMY, Code("44029006", "SCT", "Left lung")),
    "lung field": (ANATOMY, codes.SCT.Lung),
    "lung": (ANATOMY, codes.SCT.Lung),
    "heart": (ANATOMY, codes.SCT.Heart),
    "hippocampus": (ANATOMY, codes.SCT.Hippocampus),
    "nodule": (ABNORMAL, codes.SCT.Nodule),
    "lesion": (ABNORMAL, codes.SCT.Lesion),
    "foreground": (ABNORMAL, codes.SCT.Lesion),
    "consolidation": (ABNORMAL, Code("95436008", "SCT", "Lung consolidation")),
}
# A part of a structure (the Decathlon hippocampus's labels): the structure, modified.
_MODIFIERS = {"anterior": Code("255549009", "SCT", "Anterior"), "posterior": Code("255551008", "SCT", "Posterior")}
_CLASSES = {"normal": codes.SCT.Normal, "pneumonia": Code("233604007", "SCT", "Pneumonia")}

ZONES = {"upper": Code("261183002", "SCT", "Upper"), "middle": Code("C25569", "NCIt", "Middle"),
         "lower": Code("261122009", "SCT", "Lower")}
SIDES = {"right lung": codes.SCT.Right, "left lung": codes.SCT.Left}

PROBABILITY = Code("122157", "DCM", "Probability")
PRESENCE = Code("705057003", "SCT", "Presence")
"""The qualitative evaluation of whether a finding is there (present or absent at the model's threshold)."""
CARDIOTHORACIC_RATIO = Code("CTR", LOCAL, "Cardiothoracic ratio")
SCORE = Code("SCORE", LOCAL, "Calibrated candidate score")
NO_UNITS = Code("1", "UCUM", "no units")
RATIO = Code("{ratio}", "UCUM", "ratio")
SQUARE_MM = Code("mm2", "UCUM", "square millimeter")
PIXELS = Code("{pixels}", "UCUM", "pixels")
MM = Code("mm", "UCUM", "millimeter")
ML = Code("mL", "UCUM", "milliliter")


@dataclass(frozen=True)
class StructureCodes:
    """A segment's coded property: its category, its type and a modifier of the type (a part of it), if any;
    ``known`` is false where the name matched no code (it is then a generic anatomical structure)."""

    category: Code
    type: Code
    modifier: Code | None = None
    known: bool = True


def structure_codes(name: str, context: str = "") -> StructureCodes:
    """The codes of a structure named ``name``; a bare part (``anterior``) is a part of the structure that
    ``context`` (the model's name and description) names, where it names one."""
    key = name.strip().lower()
    for known, (category, kind) in _STRUCTURES.items():
        if known in key:
            return StructureCodes(category, kind, next((m for p, m in _MODIFIERS.items() if p in key), None))
    if key in _MODIFIERS:
        whole = next((pair for known, pair in _STRUCTURES.items() if known in context.lower()), None)
        if whole is not None:
            return StructureCodes(*whole, modifier=_MODIFIERS[key])
    return StructureCodes(ANATOMY, ANATOMY, known=False)


def class_code(name: str) -> Code:
    """A classifier's class as a code: SNOMED CT where it is a finding we know, else a local code of the name."""
    key = name.strip().lower()
    if key in _CLASSES:
        return _CLASSES[key]
    if key in _STRUCTURES:
        return _STRUCTURES[key][1]
    return Code(key.upper().replace(" ", "_")[:16] or "CLASS", LOCAL, name.strip() or "class")
