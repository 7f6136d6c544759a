"""Recognise a file's format from its first bytes (and only then its name)."""

from __future__ import annotations


def sniff_format(head: bytes, name: str = "") -> str | None:
    """The format of a file from its leading bytes, or ``None`` if unknown.

    DICOM is recognised by its ``DICM`` marker at offset 128, so files with no
    extension are found; a name ending in ``.dcm`` counts only when the bytes
    decide nothing.

    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n")
    'png'
    """
    lower = name.lower()
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[344:348] in (b"n+1\x00", b"ni1\x00") or head[4:8] in (b"n+2\x00",):
        return "nifti"
    if head.lstrip()[:40].replace(b" ", b"").startswith((b"ObjectType=Image", b"NDims=")):
        return "metaimage"
    if head.startswith(b"\x1f\x8b") and lower.endswith(".nii.gz"):
        return "nifti-gz"
    if lower.endswith((".dcm", ".dicom", ".ima")):
        return "dicom"
    return None
