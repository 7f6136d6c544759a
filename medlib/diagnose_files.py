"""Diagnosing image files one by one (``python -m medlib diagnose``, and the workers of ``medlib predict``): one
result per file, and the pictures and label maps written beside them."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medlib.diagnose import diagnose
from medlib.diagnosis_picture import diagnosis_picture
from medlib.explain import METHODS
from medlib.inference import LoadedModel


def image_paths(sources: Sequence[str | Path]) -> list[Path]:
    """The files to diagnose: each file named, and the image files inside each folder named (sorted, recursive)."""
    from medlib.datasets.files import is_image_file

    paths: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            paths += sorted(p for p in source.rglob("*") if is_image_file(p))
        else:
            paths.append(source)
    return paths


def diagnose_paths(paths: Sequence[Path], classifier: LoadedModel | None, segmenter: LoadedModel | None,
                   out: Path | None = None, method: str = METHODS[0],
                   locator: LoadedModel | None = None) -> Iterator[dict[str, Any]]:
    """Diagnose image files one by one: one result per file (``error`` for a file that cannot be read or used, and
    the next file goes on). ``out`` receives ``<stem>.png`` (the picture) and, with a one-structure segmenter,
    ``<stem>-mask.png`` (0/255 at the image's own size), with a segmenter of several structures
    ``<stem>-labels.png`` (0 background, 1..K in its card's structure order, at the image's own size)."""
    from medlib.errors import MedlibError
    from medlib.readers import read_image
    from medlib.windowing import to_display

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        started = time.perf_counter()
        try:
            image = read_image(path)
            frame = image.data[0]
            diagnosis = diagnose(frame, classifier, segmenter, image.spacing, method, metadata=image.metadata,
                                 locator=locator)
        except (MedlibError, OSError, ValueError) as exc:
            yield {"file": str(path), "error": str(exc).replace("\n", " ")}
            continue
        result = {"file": str(path), "size": [image.height, image.width], **diagnosis.to_dict()}
        if image.frames > 1:
            result["notes"] = [*result["notes"], f"the first of {image.frames} frames was diagnosed"]
        if out is not None:
            picture = diagnosis_picture(to_display(image, 0), diagnosis)
            cv2.imwrite(str(out / f"{path.stem}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
            result["picture"] = str(out / f"{path.stem}.png")
            if diagnosis.lesion_probability is not None and not diagnosis.lesions_on_input:
                mask = np.where(diagnosis.lesion_probability >= 0.5, 255, 0).astype(np.uint8)
                cv2.imwrite(str(out / f"{path.stem}-mask.png"), mask)
                result["mask"] = str(out / f"{path.stem}-mask.png")
            if diagnosis.label_map is not None:
                labels = cv2.resize(diagnosis.label_map, (image.width, image.height), interpolation=cv2.INTER_NEAREST)
                cv2.imwrite(str(out / f"{path.stem}-labels.png"), labels)
                result["labels"] = str(out / f"{path.stem}-labels.png")
        result["seconds"] = round(time.perf_counter() - started, 3)
        yield result
