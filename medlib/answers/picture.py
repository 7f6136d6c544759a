"""Pictures of a diagnosis (:mod:`medlib.answers.diagnose`): the heat map, the outlines in their colours, the lesions'
numbered boxes and the candidates' numbered circles, drawn where they lie on the image, at any picture size."""

from __future__ import annotations

import cv2
import numpy as np

from medlib.answers.diagnosis import Diagnosis
from medlib.display.drawing import FINDING_COLOR, as_rgb, draw_label_map, draw_outline
from medlib.geometry import fit_record, xy_to_index
from medlib.models.heatmaps import overlay


def draw_lesions(picture: np.ndarray, diagnosis: Diagnosis, opacity: float = 0.35, threshold: float = 0.5,
                 color: tuple[int, int, int] = (255, 64, 64)) -> np.ndarray:
    """The RGB picture with a one-structure segmenter's mask filled at ``opacity``, its outline, and numbered boxes."""
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


def draw_candidates(picture: np.ndarray, diagnosis: Diagnosis) -> np.ndarray:
    """The RGB picture with each called candidate (:meth:`Diagnosis.called`) drawn as a numbered circle with its
    score, where it lies on the image."""
    out = as_rgb(picture).copy()
    to_picture = fit_record(diagnosis.image_size or out.shape[:2], out.shape[:2], keep_aspect=False)
    thickness = max(1, round(max(out.shape[:2]) / 320))
    for number, candidate in diagnosis.called():
        (row, column), = to_picture.move_points(xy_to_index(np.array([candidate.centre], float)), out.shape[:2])
        radius = max(4 * thickness, round(candidate.radius * to_picture.factor()) + 3 * thickness)
        centre = (round(column), round(row))
        cv2.circle(out, centre, radius, FINDING_COLOR, thickness, cv2.LINE_AA)
        label = f"{number}: {candidate.score:.2f}"
        cv2.putText(out, label, (centre[0] + radius + 2, centre[1] - radius // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * thickness, FINDING_COLOR, thickness, cv2.LINE_AA)
    return out


def diagnosis_picture(display: np.ndarray, diagnosis: Diagnosis, heat_opacity: float = 0.45,
                      opacity: float = 0.35) -> np.ndarray:
    """The RGB picture of a diagnosis on ``display`` (the image as shown, uint8): the heat map blended in, the
    segmenter's outline (each structure of a label map in its colour) and numbered boxes, and the called
    candidates (:meth:`Diagnosis.called`) on top, each where it lies on the image (not on a
    cropped input)."""
    picture = display
    if diagnosis.heat is not None and not diagnosis.heat_on_input:
        picture = overlay(display, diagnosis.heat, heat_opacity)
    picture = as_rgb(picture)
    if diagnosis.label_map is not None:
        labels = cv2.resize(diagnosis.label_map, (picture.shape[1], picture.shape[0]), interpolation=cv2.INTER_NEAREST)
        picture = draw_label_map(picture, labels)
    elif not diagnosis.lesions_on_input:
        picture = draw_lesions(picture, diagnosis, opacity)
    return draw_candidates(picture, diagnosis)
