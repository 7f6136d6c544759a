"""PNG, JPEG, BMP, GIF (Pillow) and TIFF (tifffile), 8- and 16-bit, multi-page."""

from __future__ import annotations

import io
import warnings

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from medlib.errors import CorruptFileError, ImageTooLargeError, NotAnImageError, UnsupportedEncodingError
from medlib.input.common import check_size, drop_alpha, to_fhwc
from medlib.input.image import MedImage

# Pillow modes and what they become: palette and CMYK images are shown as RGB.
_CONVERT = {"P": "RGB", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "1": "L"}


def read_pillow(data: bytes, fmt: str, reduce_to: int | None = None) -> MedImage:
    """Decode PNG, JPEG, BMP or GIF bytes (every frame of an animated file).

    ``reduce_to``: a JPEG whose long side is over twice this is decoded at a reduced scale (1/2, 1/4 or 1/8)
    that keeps its long side at least this long: much faster for full-size films read into a smaller data set.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                n_frames = getattr(im, "n_frames", 1)
                channels = len(im.getbands())
                check_size(height, width, n_frames, channels, what=fmt.upper())
                reduced = fmt == "jpeg" and bool(reduce_to) and max(width, height) > 2 * reduce_to
                if reduced:
                    scale = reduce_to / max(width, height)
                    im.draft(im.mode, (max(1, round(width * scale)), max(1, round(height * scale))))
                frames = []
                for index in range(n_frames):
                    im.seek(index)
                    frame = im.convert(_CONVERT[im.mode]) if im.mode in _CONVERT else im
                    frames.append(np.asarray(frame))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"the {fmt.upper()} image is too large to decode safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise NotAnImageError(f"the file looks like {fmt.upper()} but Pillow cannot identify it") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptFileError(
            f"the {fmt.upper()} file is truncated or corrupt ({exc}); export it again from the source"
        ) from exc
    stack = np.stack(frames)
    axes = "FYX" if stack.ndim == 3 else "FYXS"
    fhwc = drop_alpha(to_fhwc(stack, axes))
    photometric = "RGB" if fhwc.shape[-1] == 3 else "MONOCHROME2"
    bits = 16 if stack.dtype == np.uint16 else int(stack.dtype.itemsize * 8)
    return MedImage(fhwc, format=fmt, photometric=photometric, metadata={"BitsStored": bits},
                    source_size=(height, width) if reduced and fhwc.shape[1:3] != (height, width) else None)


def read_tiff(data: bytes) -> MedImage:
    """Decode a TIFF: 8/16/32-bit, gray or RGB, every page of its first series."""
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            if not tif.series:
                raise CorruptFileError("the TIFF file holds no image series; export it again")
            series = tif.series[0]
            axes = series.axes
            shape = dict(zip(axes, series.shape, strict=True))
            frames = int(np.prod([n for a, n in shape.items() if a not in "YXS"], dtype=np.int64))
            check_size(shape.get("Y", 0), shape.get("X", 0), frames, shape.get("S", 1), what="TIFF")
            array = series.asarray()
    except (ImageTooLargeError, CorruptFileError):
        raise
    except ValueError as exc:
        if "requires" in str(exc):
            raise UnsupportedEncodingError(f"this TIFF's compression cannot be decoded here: {exc}") from exc
        raise CorruptFileError(f"the TIFF file is truncated or corrupt ({exc}); export it again") from exc
    except (tifffile.TiffFileError, OSError, EOFError, KeyError, IndexError) as exc:
        raise CorruptFileError(f"the TIFF file is truncated or corrupt ({exc}); export it again") from exc
    if np.iscomplexobj(array):
        raise UnsupportedEncodingError("complex-valued TIFF images are not supported; save magnitudes instead")
    fhwc = drop_alpha(to_fhwc(array, axes))
    photometric = "RGB" if fhwc.shape[-1] == 3 else "MONOCHROME2"
    return MedImage(
        fhwc, format="tiff", photometric=photometric, metadata={"BitsStored": int(array.dtype.itemsize * 8)}
    )
