"""The models' answer as the labels a person starts from: the segmenter's outlines as editable polygons, the
called candidates as circles, the classifier's class."""

from __future__ import annotations

from collections.abc import Sequence

from medlib.answers.diagnosis import Diagnosis
from medlib.answers.dicom import map_labels
from medlib.labelling.labels import ImageLabels, outlines_of
from medlib.models.loaded import LoadedModel
from medlib.targets import Finding


def outlined_structures(segmenter: LoadedModel) -> list[str]:
    """The structures a segmenter's proposal outlines: its structures, or what a one-structure model outlines
    (``lesion`` where its card does not name it)."""
    names = segmenter.card.structures
    return list(names) if len(names) > 1 else [segmenter.target]


def proposal_from(result: Diagnosis, size: tuple[int, int], classes: Sequence[str]) -> tuple[ImageLabels, list[str]]:
    """The labels ``result`` proposes for an image of ``size`` (height, width), and why parts are missing: nothing
    where the gate refused the image; no class where the classifier's is not one of ``classes`` (the set's) or the
    classifier learned from another population; no circles where the locator did."""
    if not result.gate.in_distribution:
        return ImageLabels(size), ["the models propose nothing here: the image is outside what they learned from ("
                                   + "; ".join(result.gate.reasons) + ")"]
    notes = []
    labels, structures = map_labels(result)
    outlines = {} if labels is None else outlines_of(labels, structures, size)
    findings = [Finding(c.label, c.centre, c.radius) for _, c in result.called()]
    label = result.likeliest if result.fits("classifier") else None
    if label is not None and classes and label not in classes:
        notes.append(f"the classifier's class {label!r} is not one of this set's ({', '.join(classes)}): set it")
        label = None
    notes += [f"not proposed: {fit.reason}" for fit in result.population.values() if not fit.fits]
    return ImageLabels(size, outlines, findings, label), notes
