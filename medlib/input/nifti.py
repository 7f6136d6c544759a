"""NIfTI-1 and NIfTI-2 volumes (``.nii``, ``.nii.gz``) through nibabel, as axial slices."""

from __future__ import annotations

import zlib

import nibabel as nib
import numpy as np

from medlib.errors import CorruptFileError, ImageTooLargeError, UnsupportedEncodingError
from medlib.input.common import check_size
from medlib.input.image import MedImage
from medlib.limits import limit, raise_hint


def gunzip_capped(data: bytes) -> bytes:
    """Decompress gzip bytes, refusing output larger than the archive limit (no gzip bombs)."""
    most = limit("max_archive_mb")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, most + 1)
    except zlib.error as exc:
        raise CorruptFileError(f"the .gz file is truncated or corrupt ({exc}); compress it again") from exc
    if len(out) > most or inflater.unconsumed_tail:
        raise ImageTooLargeError(f"the .gz file expands to more than {most:,} bytes, too large to open "
                                 f"({raise_hint('max_archive_mb')})")
    return out


def read_nifti(data: bytes, gzipped: bool = False) -> MedImage:
    """Read a NIfTI volume as a stack of axial slices (radiological orientation).

    Slices run from inferior to superior; spacing is taken from the header.
    A 4-D series keeps its first volume and says so in the metadata.
    """
    raw = gunzip_capped(data) if gzipped else data
    image_class = nib.Nifti2Image if raw[4:8] == b"n+2\x00" else nib.Nifti1Image
    try:
        image = image_class.from_bytes(raw)
        shape = tuple(int(n) for n in image.shape)
        if len(shape) < 2:
            raise CorruptFileError(f"the NIfTI header declares shape {shape}; an image needs two dimensions")
        extra = int(np.prod(shape[3:], dtype=np.int64)) if len(shape) > 3 else 1
        check_size(shape[1], shape[0], shape[2] if len(shape) > 2 else 1, extra, what="NIfTI volume")
        if np.dtype(image.get_data_dtype()).kind == "c":
            raise UnsupportedEncodingError("complex-valued NIfTI volumes are not supported; save magnitudes")
        image = nib.as_closest_canonical(image)
        volume = np.asarray(image.dataobj, dtype=np.float32)
        zooms = tuple(float(z) for z in image.header.get_zooms())
    except (CorruptFileError, ImageTooLargeError, UnsupportedEncodingError):
        raise
    except Exception as exc:  # nibabel raises many types on a bad header or short data
        raise CorruptFileError(f"the NIfTI file has a bad header or is truncated ({exc}); export it again") from exc
    metadata: dict[str, object] = {"NiftiShape": list(shape)}
    if volume.ndim > 3:
        volume = volume.reshape(volume.shape[:3] + (-1,))[..., 0]
        metadata["Note"] = f"4-D series with {extra} volumes; showing the first"
    if volume.ndim == 2:
        volume = volume[..., None]
    # RAS+ array (x: left→right, y: posterior→anterior); radiological display puts
    # the patient's right on the image's left and anterior at the top.
    slices = np.transpose(volume[::-1, ::-1, :], (2, 1, 0))
    spacing = (zooms[1], zooms[0]) if len(zooms) >= 2 else None
    width, height = volume.shape[0], volume.shape[1]
    to_voxel = np.array([[0, 0, -1, width - 1], [0, -1, 0, height - 1], [1, 0, 0, 0], [0, 0, 0, 1]], float)
    return MedImage(
        slices[..., None],
        format="nifti",
        spacing=spacing,
        photometric="MONOCHROME2",
        metadata=metadata,
        slice_spacing=zooms[2] if len(zooms) > 2 else None,
        affine=np.asarray(image.affine, float) @ to_voxel,
    )
