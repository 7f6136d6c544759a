"""One image through a classifier and a segmenter: class probabilities, heat map, lesion mask and findings.

Each model's card preprocessing is applied to the image; the heat map and the
lesion map are brought back onto the image as it was read (undoing the resize
and padding of the preprocessing) so they can be drawn on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medlib.explain import METHODS, heatmaps
from medlib.gate import GateResult, image_signals, mask_statistics
from medlib.inference import LoadedModel, check_input
from medlib.metrics import as_probabilities
from medlib.preprocess import InputGeometry, Processed
from medlib.segmentation import find_lesions, foreground, predict_tiled
from medlib.transforms import Record, fit_record, xy_to_index
from medlib.visualize import shrink

ORGAN_MIN_PART = 0.1
"""An outline of anatomy (a segmenter of anything but lesions, such as lung fields) keeps the pieces of at least this
share of its largest one, with their holes filled: a stray bit at an arm or a speck is no organ. Lesions are kept
as they are, down to 4 pixels."""


@dataclass
class Diagnosis:
    """What the models say about one image; maps are at the image's own size.

    ``gate`` says whether the image is like those the models learned from; where it is not, the class
    probabilities are no finding (:attr:`predicted` is ``None``), and no heat map is made.
    """

    class_names: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    decision_threshold: float | None = None
    heat: np.ndarray | None = None
    lesion_probability: np.ndarray | None = None
    lesions: list[dict[str, Any]] = field(default_factory=list)
    gate: GateResult = field(default_factory=GateResult)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    heat_on_input: bool = False
    lesions_on_input: bool = False
    image_size: tuple[int, int] | None = None
    """The image's (height, width); the findings are in its pixels, the maps may be smaller (``work_side``)."""

    @property
    def likeliest(self) -> str | None:
        """The class the classifier picks (class 1 of two from the card's threshold), whatever the gate says."""
        if not self.probabilities:
            return None
        if self.decision_threshold is not None and len(self.probabilities) == 2:
            return self.class_names[int(self.probabilities[1] >= self.decision_threshold)]
        return self.class_names[int(np.argmax(self.probabilities))]

    @property
    def predicted(self) -> str | None:
        """The finding: the likeliest class of an image the gate lets through, else ``None``."""
        return self.likeliest if self.gate.in_distribution else None

    def to_dict(self) -> dict[str, Any]:
        """What ``python -m medlib diagnose`` prints for one image (maps left out)."""
        return {"probabilities": dict(zip(self.class_names, self.probabilities, strict=True)),
                "predicted": self.predicted, "threshold": self.decision_threshold, **self.gate.to_dict(),
                "findings": self.lesions if self.gate.in_distribution else [], "notes": self.notes,
                "model_seconds": round(self.seconds, 3)}


def _on_image(values: np.ndarray, geometry: InputGeometry, notes: list[str], what: str) -> tuple[np.ndarray, bool]:
    """A map at the model input brought back onto the image by undoing the preprocessing's recorded geometry, and
    whether it had to stay on the model input instead (a cropping pipeline: what lay outside was never seen)."""
    back = geometry.to_input(values)
    if back is None:
        notes.append(f"the {what} is shown on the cropped model input: its preprocessing crops the image")
        return np.clip(values, 0.0, 1.0), True
    return np.clip(back, 0.0, 1.0), False


def _model_input(loaded: LoadedModel, image: np.ndarray) -> Processed:
    """The card's preprocessing of ``image`` (with its geometry), checked against what the model takes."""
    processed = loaded.pipeline.run(image)
    check_input(loaded, processed.image, f"this {image.shape[-1]}-channel image", "choose another model")
    return processed


def organ_outline(mask: np.ndarray, min_part: float = ORGAN_MIN_PART) -> np.ndarray:
    """The pieces of ``mask`` of at least ``min_part`` of its largest piece (8-connected), holes filled.

    >>> mask = np.zeros((20, 20), bool); mask[2:12, 2:12] = True; mask[6, 6] = False; mask[15, 15] = True
    >>> organ = organ_outline(mask); bool(organ[6, 6]), bool(organ[15, 15]), int(organ.sum())
    (True, False, 100)
    """
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.astype(bool)
    sizes = stats[1:, cv2.CC_STAT_AREA]
    kept = np.zeros(count, np.uint8)
    kept[1:][sizes >= min_part * sizes.max()] = 1
    # What the background outside the image reaches (4-connected) is outside; the rest of the background is a hole.
    outside = np.pad(kept[pieces], 1)
    cv2.floodFill(outside, None, (0, 0), 2)
    return outside[1:-1, 1:-1] != 2


def _findings_back(findings: list[dict[str, Any]], record: Record, size: tuple[int, int]) -> list[dict[str, Any]]:
    """Findings measured after ``record`` (boxes, centres, areas), brought back onto the image of ``size`` (height,
    width) it started from by inverting the record."""
    if not record.steps:
        return findings
    back = []
    for finding in findings:
        x0, y0, x1, y1 = finding["box"]
        points = record.restore_points(xy_to_index(np.array([[x0, y0], [x1, y1], finding["centre"]], float)), size)
        (top, left), (bottom, right), (row, column) = points
        back.append({**finding, "box": [round(left), round(top), round(right), round(bottom)],
                     "area_px": round(finding["area_px"] / record.factor() ** 2),
                     "centre": [round(column, 1), round(row, 1)]})
    return back


def diagnose(image: np.ndarray, classifier: LoadedModel | None = None, segmenter: LoadedModel | None = None,
             spacing: tuple[float, float] | None = None, method: str = METHODS[0], threshold: float = 0.5,
             metadata: dict[str, Any] | None = None, work_side: int | None = None,
             source_size: tuple[int, int] | None = None) -> Diagnosis:
    """Classify and segment one image (H×W×C as read), and judge whether it is like the models' training images.

    ``spacing`` (mm per pixel: rows, columns) gives the findings' areas in mm²; ``threshold`` is the segmenter's;
    ``metadata``, a DICOM file's de-identified tags, lets the gate read its modality and body part.
    A binary classifier decides at the threshold its card records (chosen on validation).
    ``work_side`` shrinks a larger image first (its long side to that many pixels, by area averaging, as the
    models' own resizing does): the maps come back at that size, the findings still in the image's pixels. A
    front end that shows a full-size film on a screen needs no more, and is spared the maps at 20 megapixels.
    ``source_size``: the (height, width) of the file where ``image`` was decoded from it at a reduced scale
    (:attr:`MedImage.source_size`); the findings and ``spacing`` are then in the file's pixels.
    """
    started = time.perf_counter()
    result = Diagnosis(image_size=source_size or (int(image.shape[0]), int(image.shape[1])))
    image, _ = shrink(image, work_side)
    work = fit_record(result.image_size, image.shape[:2], keep_aspect=False)  # from the file's pixels to these
    if spacing is not None:
        spacing = (spacing[0] / work.factor(), spacing[1] / work.factor())
    gray = any(m.gray for m in (classifier, segmenter) if m is not None)
    signals = image_signals(image, gray, metadata, [m.card for m in (classifier, segmenter) if m is not None])
    if classifier is not None:
        classified = _model_input(classifier, image)
        classifier_input = classified.image[None]
        probe, profile = classifier.probe, classifier.profile("features")
        if probe is not None:
            features, raw = (np.asarray(v) for v in probe.predict_on_batch(classifier_input))
            if profile is not None:
                signals["features"] = float(profile.score(features)[0])
        else:
            raw = np.asarray(classifier.model.predict_on_batch(classifier_input))
        probabilities = as_probabilities(raw)[0]
        result.class_names = classifier.class_names or [f"class {k}" for k in range(probabilities.size)]
        result.probabilities = [round(float(p), 4) for p in probabilities]
        result.decision_threshold = classifier.threshold if probabilities.size == 2 else None
    if segmenter is not None:
        segmented = _model_input(segmenter, image)
        probability = foreground(predict_tiled(segmenter.model, segmented.image, mirrors=segmenter.mirrors))
        if (profile := segmenter.profile("shape")) is not None:
            signals["shape"] = float(profile.score(mask_statistics(probability))[0])
        if segmenter.target != "lesion":
            # On the model's map (fast at any image size): holes count as the organ at just above the threshold's
            # probability; the pieces left out, as nothing.
            kept = organ_outline(probability >= threshold)
            probability = np.where(kept, np.maximum(probability, threshold + 1e-4), 0.0).astype(np.float32)
        result.lesion_probability, result.lesions_on_input = _on_image(probability, segmented.geometry, result.notes,
                                                                       f"{segmenter.target} map")
        result.lesions = find_lesions(result.lesion_probability, threshold, None if result.lesions_on_input
                                      else spacing)
        if not result.lesions_on_input:
            result.lesions = _findings_back(result.lesions, work, result.image_size)
    result.gate = GateResult(signals)
    if classifier is not None and result.gate.in_distribution:
        chosen = result.class_names.index(result.likeliest)
        heat = heatmaps(classifier.model, classifier_input, chosen, method=method)[0]
        result.heat, result.heat_on_input = _on_image(heat, classified.geometry, result.notes, "heat map")
    result.seconds = time.perf_counter() - started
    return result


def draw_findings(picture: np.ndarray, diagnosis: Diagnosis, opacity: float = 0.35, threshold: float = 0.5,
                  color: tuple[int, int, int] = (255, 64, 64)) -> np.ndarray:
    """The RGB picture with the lesion mask filled at ``opacity``, its outline, and numbered boxes."""
    from medlib.visualize import as_rgb, draw_outline

    out = as_rgb(picture).copy()
    if diagnosis.lesion_probability is None:
        return out
    mask = (diagnosis.lesion_probability >= threshold).astype(np.uint8)
    if mask.shape != out.shape[:2]:  # a map of another size (see ``work_side``) on a picture of the image
        mask = cv2.resize(mask, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST)
    inside = mask.astype(bool)
    to_picture = fit_record(diagnosis.image_size or out.shape[:2], out.shape[:2], keep_aspect=False)
    if opacity > 0 and inside.any():
        tint = out.copy()
        tint[inside] = color
        out = cv2.addWeighted(out, 1.0 - opacity, tint, opacity, 0.0)
    out = draw_outline(out, mask, color)
    thickness = max(1, round(max(out.shape[:2]) / 256))
    for finding in diagnosis.lesions:
        corners = to_picture.move_points(xy_to_index(np.reshape(finding["box"], (2, 2))), out.shape[:2])
        (y0, x0), (y1, x1) = np.round(corners).astype(int)
        cv2.rectangle(out, (x0 - 2, y0 - 2), (x1 + 1, y1 + 1), (255, 220, 0), thickness)
        cv2.putText(out, str(finding["finding"]), (x0, max(10, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * thickness, (255, 220, 0), thickness)
    return out


def diagnosis_picture(display: np.ndarray, diagnosis: Diagnosis, heat_opacity: float = 0.45,
                      opacity: float = 0.35) -> np.ndarray:
    """The RGB picture of a diagnosis on ``display`` (the image as shown, uint8): the heat map blended in, the
    segmenter's outline and numbered boxes on top (each where it lies on the image, not on a cropped input)."""
    from medlib.explain import overlay
    from medlib.visualize import as_rgb

    picture = display
    if diagnosis.heat is not None and not diagnosis.heat_on_input:
        picture = overlay(display, diagnosis.heat, heat_opacity)
    return as_rgb(picture) if diagnosis.lesions_on_input else draw_findings(picture, diagnosis, opacity)


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
                   out: Path | None = None, method: str = METHODS[0]) -> Iterator[dict[str, Any]]:
    """Diagnose image files one by one: one result per file (``error`` for a file that cannot be read or used, and
    the next file goes on). ``out`` receives ``<stem>.png`` (the picture) and, with a segmenter, ``<stem>-mask.png``
    (0/255 at the image's own size)."""
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
            diagnosis = diagnose(frame, classifier, segmenter, image.spacing, method, metadata=image.metadata)
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
        result["seconds"] = round(time.perf_counter() - started, 3)
        yield result
