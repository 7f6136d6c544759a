"""Every DICOM object an answer writes passes the DICOM community's validator, ``dciodvfy`` (David Clunie's
dicom3tools, Debian's ``dicom3tools``) with no error: the SEG, the SR and the Secondary Capture of a CR film, of a
PNG, and of a CT and an MR series answered by a volume model."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from medlib.answers.files import answer_files
from medlib.answers.volume_diagnose import VolumeDiagnosis
from medlib.input import read_dicom_series, read_image
from tests.conftest import dicom_file
from tests.test_dicom_answers import CARDS, _film_answer, _series

pytest.importorskip("highdicom")


def _errors(data: bytes, where: Path) -> list[str]:
    """The validator's error lines for one written object."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy is not installed (Debian's dicom3tools; .ci/run installs it)")
    where.write_bytes(data)
    run = subprocess.run(["dciodvfy", str(where)], capture_output=True, text=True, timeout=120, check=False)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def _validated(files: dict[str, bytes], tmp_path: Path) -> dict[str, list[str]]:
    return {name: _errors(data, tmp_path / name) for name, data in files.items() if name.endswith(".dcm")}


def test_the_objects_of_a_cr_film_and_of_a_png_pass_the_validator(tmp_path):
    film = read_image(dicom_file("RG1_UNCR.dcm"))
    written = answer_files("film", film, _film_answer(film.height, film.width), CARDS, dicom=True).files
    png = tmp_path / "film.png"
    import cv2

    cv2.imwrite(str(png), np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (80, 1)))
    capture = answer_files("png", read_image(png), _film_answer(80, 96), CARDS, dicom=True,
                           display=np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (80, 1))).files
    results = _validated(written | capture, tmp_path)
    assert set(results) == {"film-seg.dcm", "film-sr.dcm", "png-image.dcm", "png-seg.dcm", "png-sr.dcm"}
    assert results == {name: [] for name in results}


@pytest.mark.parametrize(("name", "structures"), [("CT_small.dcm", ["right lung", "left lung"]),
                                                  ("MR_small.dcm", ["anterior", "posterior"])])
def test_the_objects_of_a_series_pass_the_validator(name, structures, tmp_path):
    image = read_dicom_series(_series(name, 4, 2.5))
    labels = np.zeros(image.data.shape[:3], np.uint8)
    labels[1:3, 10:30, 10:30], labels[2:4, 40:50, 20:60] = 1, 2
    card = CARDS["segmenter"].replace(name="mri-hippocampus", description="the hippocampus on brain MRI crops")
    result = VolumeDiagnosis(structures, labels, image.affine, (2.5, 1.0, 1.0),
                             volumes={s: {"voxels": int((labels == k).sum()), "volume_ml": 0.1 * k}
                                      for k, s in enumerate(structures, start=1)})
    results = _validated(answer_files("series", image, result, {"segmenter": card}, dicom=True).files, tmp_path)
    assert set(results) == {"series-seg.dcm", "series-sr.dcm"}
    assert results == {name: [] for name in results}


def test_the_written_objects_declare_the_local_coding_scheme_and_state_the_films_orientation(tmp_path):
    import io

    import pydicom

    film = read_image(dicom_file("RG1_UNCR.dcm"))
    files = answer_files("film", film, _film_answer(film.height, film.width), CARDS, dicom=True).files
    seg, sr = (pydicom.dcmread(io.BytesIO(files[f"film-{kind}.dcm"])) for kind in ("seg", "sr"))
    assert list(seg.PatientOrientation) == list(pydicom.dcmread(dicom_file("RG1_UNCR.dcm")).PatientOrientation)
    assert seg.SeriesDescription.startswith("cxr-anatomy 20") and seg.SeriesDescription.endswith("not for diagnosis")
    assert sr.SeriesDescription.startswith("medlib ") and len(seg.SeriesDescription) <= 64
    declared = [item.CodingSchemeDesignator for item in sr.CodingSchemeIdentificationSequence]
    assert declared == ["99MEDLIB"]
    references = [item for element in sr.iterall() if element.keyword == "ReferencedSOPSequence"
                  for item in element.value if "ReferencedSegmentNumber" in item]
    assert references and not any("ReferencedFrameNumber" in item for item in references)


def test_presence_follows_each_models_own_threshold_and_the_users_is_recorded_as_such():
    """The page's slider moved to 0.15: both candidates are called on the page, but the SR writes as present only
    the one above the model's own threshold (0.5), records the user's 0.15 beside it, and names every model."""
    import io

    import highdicom as hd

    film = read_image(dicom_file("RG1_UNCR.dcm"))
    result = _film_answer(film.height, film.width).at(0.15)
    assert len(result.called()) == 2
    sr = hd.sr.srread(io.BytesIO(answer_files("film", film, result, CARDS, dicom=True).files["film-sr.dcm"]))
    regions = [g for g in sr.content.get_planar_roi_measurement_groups() if "candidate" in g.tracking_identifier]
    presence = [e.value.meaning for g in regions for e in g.get_qualitative_evaluations()]
    assert presence == ["Present", "Absent"]
    parameters = {item.TextValue for element in sr.iterall() if element.keyword == "ContentSequence"
                  for item in element.value if item.ValueType == "TEXT"
                  and item.ConceptNameCodeSequence[0].CodeMeaning == "Algorithm Parameters"}
    observer = next(item.TextValue for element in sr.iterall() if element.keyword == "ContentSequence"
                    for item in element.value if item.ValueType == "TEXT"
                    and item.ConceptNameCodeSequence[0].CodeMeaning == "Device Observer Name")
    assert all(name in observer for name in ("cxr-pneumonia", "cxr-anatomy", "cxr-nodule"))
    own = {f"decision threshold={CARDS[part].threshold_value:.4f}" for part in ("locator", "classifier")}
    assert own | {"user's threshold=0.1500"} <= parameters


def test_a_persons_labels_pass_the_validator_on_a_cr_film_and_on_a_png(tmp_path):
    import cv2

    from medlib.answers.dicom_labels import labels_dicom
    from medlib.labelling.labels import ImageLabels
    from medlib.targets import Finding

    def square(x0: float, y0: float, side: float) -> np.ndarray:
        return np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]])

    film = read_image(dicom_file("RG1_UNCR.dcm"))
    labels = ImageLabels((film.height, film.width), {"right lung": [square(100, 100, 300)], "heart":
                         [square(500, 500, 200)]}, [Finding("nodule", (300.0, 300.0), 20.0)], "normal")
    on_film = labels_dicom(film, labels, ["right lung", "left lung", "heart"]).files
    assert set(on_film) == {"seg", "sr"}  # the film's own file is cited: no Secondary Capture
    picture = np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (80, 1))
    cv2.imwrite(str(tmp_path / "film.png"), picture)
    on_png = labels_dicom(read_image(tmp_path / "film.png"), ImageLabels((80, 96), {}, [Finding("nodule", (50.0, 40.0),
                          5.0)]), ["heart"], display=picture).files
    assert set(on_png) == {"image", "sr"}  # nothing outlined: no SEG
    written = {f"film-{k}.dcm": v for k, v in on_film.items()} | {f"png-{k}.dcm": v for k, v in on_png.items()}
    results = _validated(written, tmp_path)
    assert results == {name: [] for name in results}

    import io

    import pydicom

    seg = pydicom.dcmread(io.BytesIO(on_film["seg"]))
    assert [s.SegmentAlgorithmType for s in seg.SegmentSequence] == ["MANUAL", "MANUAL"]
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["right lung", "heart"]  # the left lung was not drawn
    sr = pydicom.dcmread(io.BytesIO(on_film["sr"]))
    assert any(getattr(e, "value", None) == "Labeller^medlib Annotate" for e in sr.iterall())
