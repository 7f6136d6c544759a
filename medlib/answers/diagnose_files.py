"""Diagnosing image files one by one (``python -m medlib diagnose``, and the workers of ``medlib predict``): one
result per file, and the pictures and label maps written beside them."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medlib.answers.diagnose import diagnose
from medlib.answers.dicom_sources import patient_identifiers
from medlib.answers.files import AnswerFiles, answer_cards, answer_files, file_stem
from medlib.answers.picture import diagnosis_picture
from medlib.models.heatmaps import METHODS
from medlib.models.loaded import LoadedModel

WORK_SIDE = 1280
"""The long side a film is worked on at (its maps; findings stay in its own pixels), as the Diagnose page does: the
models see 224 to 512 pixels, and a 20-megapixel film's maps would cost seconds for nothing."""


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


def volume_model_for(image: Any, models: Sequence[LoadedModel]) -> LoadedModel:
    """The first volume model whose card's modality fits a volume (its DICOM modality, where it has one)."""
    from medlib.errors import ModelError
    from medlib.store.card import MODALITIES

    modality = (image.modality or "").upper()
    fitting = [m for m in models if m.card.dimensions == 3 and (not modality or not m.card.modality
                                                                 or modality in MODALITIES[m.card.modality])]
    if not fitting:
        raise ModelError(f"no volume model fits this {modality or ''} volume: train one on volumes "
                         "(python -m medlib train --data TASK_FOLDER)")
    return fitting[0]


@dataclass(frozen=True)
class Answers:
    """What ``--out`` receives besides the pictures: the DICOM answer (``dicom``), and whether it keeps the patient's
    identifiers (``keep_identifiers``, off unless asked)."""

    dicom: bool = False
    keep_identifiers: bool = False

    def identifiers(self, path: Path) -> dict[str, str] | None:
        if not (self.dicom and self.keep_identifiers):
            return None
        return patient_identifiers(sorted(path.iterdir()) if path.is_dir() else [path])  # a file, or a series' folder


def _write(out: Path, files: AnswerFiles, line: dict[str, Any]) -> None:
    """Write an answer's files into ``out`` and name them in its line (``labels``, ``report``, ``seg``...)."""
    for name, data in files.files.items():
        (out / name).write_bytes(data)
        part = name.rsplit("-", 1)[-1].split(".")[0]
        line[part] = str(out / name)
    if files.notes:
        line["notes"] = [*line.get("notes", []), *files.notes]


def _volume_line(path: Path, image: Any, model: LoadedModel, out: Path | None, answers: Answers) -> dict[str, Any]:
    """One volume's line: the model it was sent to, each structure's voxels and mL, and its files
    (:func:`medlib.answers.files.answer_files`: ``<stem>-labels.nii.gz``, the report, the DICOM answer)."""
    import nibabel as nib

    from medlib.answers.report import volume_picture
    from medlib.answers.volume_diagnose import diagnose_volume
    from medlib.datasets.volumes import is_nifti

    if is_nifti(path):  # its own voxel order and affine, as the file has them
        stored = nib.load(str(path))
        data = np.asarray(stored.dataobj, np.float32)
        data, affine = (data if data.ndim == 3 else data[..., 0]), stored.affine
    else:
        data, affine = image.data[..., 0], image.affine
    result = diagnose_volume(data, affine, model, image.metadata)
    line = {"file": str(path), "kind": "volume", "size": list(data.shape), "model": model.stored.name,
            "note": f"sent to {model.stored.name} ({model.card.modality or 'volumes'}, 3-D): its card fits",
            **result.to_dict()}
    if out is not None:
        stem = file_stem(path.name)
        picture = volume_picture(data, result.labels) if result.gate.in_distribution else None
        _write(out, answer_files(stem, image, result, {"segmenter": model.card}, picture, dicom=answers.dicom,
                                 identifiers=answers.identifiers(path)), line)
    return line


def diagnose_paths(paths: Sequence[Path], classifier: LoadedModel | None, segmenter: LoadedModel | None,
                   out: Path | None = None, method: str = METHODS[0], locator: LoadedModel | None = None,
                   volume_models: Sequence[LoadedModel] = (), answers: Answers = Answers(),
                   age_model: LoadedModel | None = None) -> Iterator[dict[str, Any]]:
    """Diagnose image files one by one: one result per file (``error`` for a file that cannot be read or used, and
    the next file goes on). ``out`` receives ``<stem>.png`` (the picture) and, with a one-structure segmenter,
    ``<stem>-mask.png`` (0/255 at the image's own size), with a segmenter of several structures
    ``<stem>-labels.png`` (0 background, 1..K in its card's structure order, at the image's own size), and each
    answer's ``<stem>-report.html`` and, with ``answers.dicom``, its DICOM SEG and SR (``<stem>-seg.dcm``,
    ``<stem>-sr.dcm``, and ``<stem>-image.dcm`` where the image had no DICOM file to cite). A volume (a NIfTI volume,
    a DICOM series) goes to the first of ``volume_models`` that fits it (:func:`volume_model_for`), which ``out``
    receives ``<stem>-labels.nii.gz`` of (the input's own affine). ``age_model`` tells a child's film from an
    adult's where the file gives no age (each model's ``population_fit``)."""
    from medlib.display.windowing import to_display
    from medlib.errors import MedlibError
    from medlib.input import read_image, read_series

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        started = time.perf_counter()
        try:
            image = read_series(sorted(p for p in path.iterdir() if p.is_file())) if path.is_dir() \
                else read_image(path)  # a folder: one series' slices (medlib.pacs.exchange.fetch writes them so)
            if image.dimensions == 3 and volume_models:
                yield _volume_line(path, image, volume_model_for(image, volume_models), out, answers) | {
                    "seconds": round(time.perf_counter() - started, 3)}
                continue
            frame = image.data[0]
            diagnosis = diagnose(frame, classifier, segmenter, image.spacing, method, metadata=image.metadata,
                                 locator=locator, work_side=WORK_SIDE, source_size=image.source_size,
                                 age_model=age_model)
        except (MedlibError, OSError, ValueError) as exc:
            yield {"file": str(path), "error": str(exc).replace("\n", " ")}
            continue
        result = {"file": str(path), "size": [image.height, image.width], **diagnosis.to_dict()}
        if image.frames > 1:
            result["notes"] = [*result["notes"], f"the first of {image.frames} frames was diagnosed"]
        if out is not None:
            display = to_display(image, 0)
            picture = diagnosis_picture(display, diagnosis)
            stem = file_stem(path.name)
            cv2.imwrite(str(out / f"{stem}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
            result["picture"] = str(out / f"{stem}.png")
            if diagnosis.lesion_probability is not None and not diagnosis.lesions_on_input:
                mask = cv2.resize(np.where(diagnosis.lesion_probability >= 0.5, 255, 0).astype(np.uint8),
                                  (image.width, image.height), interpolation=cv2.INTER_NEAREST)
                cv2.imwrite(str(out / f"{stem}-mask.png"), mask)
                result["mask"] = str(out / f"{stem}-mask.png")
            _write(out, answer_files(stem, image, diagnosis, answer_cards(classifier, segmenter, locator), picture,
                                     display, answers.dicom, answers.identifiers(path)), result)
        result["seconds"] = round(time.perf_counter() - started, 3)
        yield result
