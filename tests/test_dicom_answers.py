"""DICOM SEG and SR answers read back: the label map frame for frame on the source's grid, the findings and
measurements with their units and codes, no patient identifier unless kept, new UIDs where the source's are missing
or broken; and the report and the ZIP beside them. The answers are built by hand (no model runs): what is tested is
what gets written of them."""

from __future__ import annotations

import dataclasses
import io
import json
import warnings
import zipfile

import numpy as np
import pydicom
import pytest

from medlib.answers.diagnose import Diagnosis
from medlib.answers.files import answer_files, file_stem
from medlib.answers.volume_diagnose import VolumeDiagnosis
from medlib.gate.signals import GateResult
from medlib.input import read_dicom_series, read_image
from medlib.store.card import ModelCard
from medlib.targets import Finding
from tests.conftest import ROOT, dicom_file

hd = pytest.importorskip("highdicom")

SECRETS = ("PatientName", "PatientID", "PatientBirthDate")


def _card(name: str, **changes) -> ModelCard:
    card = ModelCard.from_dict(json.loads((ROOT / "models" / name / "card.json").read_text()))
    return card.replace(**changes) if changes else card


CARDS = {"classifier": _card("cxr-pneumonia"), "segmenter": _card("cxr-anatomy"), "locator": _card("cxr-nodule")}


def _film_answer(rows: int, columns: int, refused: bool = False) -> Diagnosis:
    """An answer about a film of rows×columns: three structures on a 64×64 map, a called and an uncalled nodule
    candidate, two class probabilities and the cardiothoracic ratio."""
    labels = np.zeros((64, 64), np.uint8)
    labels[10:50, 6:28], labels[10:50, 36:58], labels[30:52, 24:44] = 1, 2, 3
    x, y = columns * 0.25, rows * 0.3
    candidates = [Finding("nodule", (x, y), 12.0, score=0.81, structure="right lung", zone="upper"),
                  Finding("nodule", (x * 3, y * 2), 8.0, score=0.2, structure="left lung", zone="lower")]
    return Diagnosis(["NORMAL", "PNEUMONIA"], [0.3, 0.7], 0.5, image_size=(rows, columns),
                     gate=GateResult({"features": 3.0 if refused else 0.4}),
                     structures=["right lung", "left lung", "heart"], label_map=labels,
                     structure_areas={"right lung": {"area_px": 880}, "left lung": {"area_px": 880},
                                      "heart": {"area_px": 440}},
                     measurements={"cardiothoracic_ratio": 0.46, "reading": "normal"}, candidates=candidates,
                     finding_probability=0.81, finding_threshold=0.5, spacing=(14 / 24, 14 / 24))


def _read(data: bytes) -> pydicom.Dataset:
    """A written object read by pydicom, every warning an error (its pixels too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = pydicom.dcmread(io.BytesIO(data))
        if "PixelData" in ds:
            ds.pixel_array  # noqa: B018 - decoding is part of reading it
    return ds


def _source(name: str) -> pydicom.Dataset:
    return pydicom.dcmread(dicom_file(name))


def test_a_cr_film_gets_a_seg_on_its_own_grid_and_an_sr_of_its_findings_without_identifiers(tmp_path):
    path = dicom_file("RG1_UNCR.dcm")
    source = _source("RG1_UNCR.dcm")
    assert all(str(source.get(tag) or "") for tag in SECRETS)  # a file that has them
    image = read_image(path)
    result = _film_answer(image.height, image.width)
    files = answer_files("film", image, result, CARDS, picture=np.zeros((8, 8, 3), np.uint8), dicom=True)
    assert set(files.files) == {"film-labels.png", "film-seg.dcm", "film-sr.dcm", "film-report.html"}
    seg_ds, sr_ds = _read(files.files["film-seg.dcm"]), _read(files.files["film-sr.dcm"])
    for written in (seg_ds, sr_ds):
        assert written.StudyInstanceUID == source.StudyInstanceUID
        assert not any(str(written.get(tag) or "") for tag in SECRETS)
        assert "research tool" in written.SeriesDescription
    seg = hd.seg.Segmentation.from_dataset(seg_ds)
    assert (seg.Rows, seg.Columns) == (source.Rows, source.Columns)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["right lung", "left lung", "heart"]
    codes = [s.SegmentedPropertyTypeCodeSequence[0].CodeValue for s in seg.SegmentSequence]
    assert codes == ["3341006", "44029006", "80891009"]  # SNOMED CT: right lung, left lung, heart
    assert seg.SegmentSequence[0].SegmentAlgorithmName == "cxr-anatomy"
    cited = seg.ReferencedSeriesSequence[0]
    assert cited.SeriesInstanceUID == source.SeriesInstanceUID
    assert cited.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    import cv2

    expected = cv2.resize(result.label_map, (source.Columns, source.Rows), interpolation=cv2.INTER_NEAREST)
    pixels = seg_ds.pixel_array.reshape(3, source.Rows, source.Columns)  # one frame per segment, in their order
    for number in (1, 2, 3):
        assert np.array_equal(pixels[number - 1], expected == number)
    labels_png = cv2.imdecode(np.frombuffer(files.files["film-labels.png"], np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(labels_png, expected)

    sr = hd.sr.srread(io.BytesIO(files.files["film-sr.dcm"]))
    planar = sr.content.get_planar_roi_measurement_groups()
    regions = [g for g in planar if "candidate" in g.tracking_identifier]
    assert len(regions) == 1  # the one the model calls; the 0.2 peak, which no one calls, is left out
    areas = {g.tracking_identifier: g.get_measurements()[0] for g in planar if g not in regions}
    assert {k: (m.value, m.unit.value) for k, m in areas.items()} == {
        "right lung": (880, "{pixels}"), "left lung": (880, "{pixels}"), "heart": (440, "{pixels}")}
    assert all(g.referenced_segmentation_frame is not None for g in planar if g not in regions)
    first = regions[0]
    site = first.finding_sites[0]
    assert site.value.value == "39607008" and site.laterality.value == "24028007"  # lung, right
    assert site.topographical_modifier.value == "261183002"  # upper zone
    assert first.roi.graphic_type.value == "CIRCLE"
    centre = first.roi.value[0]
    assert centre == pytest.approx([result.candidates[0].centre[0] + 0.5, result.candidates[0].centre[1] + 0.5])
    presence = [(e.name.meaning, e.value.meaning) for g in regions for e in g.get_qualitative_evaluations()]
    assert presence == [("Presence", "Present")]
    diameter = [m for m in first.get_measurements() if m.name.value == "81827009"]
    assert diameter and diameter[0].value == pytest.approx(14.0) and diameter[0].unit.value == "mm"
    measures = sr.content.get_image_measurement_groups()
    found = {m.name.meaning: (m.value, m.unit.value) for group in measures for m in group.get_measurements()}
    assert found["Cardiothoracic ratio"] == (pytest.approx(0.46), "{ratio}")
    evaluations = [e for group in measures for e in group.get_qualitative_evaluations()]
    assert len(evaluations) >= 2  # each class: present or absent at the classifier's threshold


def test_kept_identifiers_reach_the_answer_only_when_asked():
    from medlib.answers.dicom_sources import patient_identifiers

    path = dicom_file("RG1_UNCR.dcm")
    source = _source("RG1_UNCR.dcm")
    image = read_image(path)
    kept = patient_identifiers([path.read_bytes()], image.references.instance_uids)
    assert kept["PatientID"] == str(source.PatientID)
    assert patient_identifiers([path.read_bytes()], ["1.2.3"]) == {}  # another image's file: nothing of it
    files = answer_files("film", image, _film_answer(image.height, image.width), CARDS, dicom=True, identifiers=kept)
    for name in ("film-seg.dcm", "film-sr.dcm"):
        written = _read(files.files[name])
        assert str(written.PatientName) == str(source.PatientName) and written.PatientID == source.PatientID


def _series(name: str, count: int, step: float) -> list[bytes]:
    """``count`` copies of one slice of a real series, each moved ``step`` mm along its normal."""
    files = []
    for k in range(count):
        ds = _source(name)
        ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{k + 1}"
        ds.InstanceNumber = k + 1
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        row, column = np.array(ds.ImageOrientationPatient[:3], float), np.array(ds.ImageOrientationPatient[3:], float)
        ds.ImagePositionPatient = list(position + step * k * np.cross(row, column))
        buffer = io.BytesIO()
        ds.save_as(buffer)
        files.append(buffer.getvalue())
    return files


@pytest.mark.parametrize(("name", "structures"), [("CT_small.dcm", ["right lung", "left lung"]),
                                                  ("MR_small.dcm", ["anterior", "posterior"])])
def test_a_series_gets_a_seg_whose_frames_lie_on_its_slices(name, structures):
    files = _series(name, 4, 2.5)
    image = read_dicom_series(files)
    frames, rows, columns = image.data.shape[:3]
    labels = np.zeros((frames, rows, columns), np.uint8)
    labels[1:3, 10:30, 10:30], labels[2:4, 40:50, 20:60] = 1, 2
    card = CARDS["segmenter"].replace(name="mri-hippocampus", description="the hippocampus on brain MRI crops")
    result = VolumeDiagnosis(structures, labels, image.affine, (2.5, 1.0, 1.0),
                             volumes={s: {"voxels": int((labels == k).sum()), "volume_ml": 0.1 * k}
                                      for k, s in enumerate(structures, start=1)})
    out = answer_files("series", image, result, {"segmenter": card}, dicom=True)
    assert {"series-seg.dcm", "series-sr.dcm", "series-labels.nii.gz"} <= set(out.files)
    seg = hd.seg.Segmentation.from_dataset(_read(out.files["series-seg.dcm"]))
    sources = [pydicom.dcmread(io.BytesIO(f)) for f in files]
    by_uid = {s.SOPInstanceUID: s for s in sources}
    assert seg.FrameOfReferenceUID == sources[0].FrameOfReferenceUID
    assert (seg.Rows, seg.Columns) == (rows, columns)
    spacing = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
    assert [float(v) for v in spacing] == [float(v) for v in sources[0].PixelSpacing]
    stack = seg.pixel_array if seg.pixel_array.ndim == 3 else seg.pixel_array[None]
    for index, group in enumerate(seg.PerFrameFunctionalGroupsSequence):
        cited = group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        position = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
        assert position == pytest.approx([float(v) for v in by_uid[cited].ImagePositionPatient])
        number = group.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        frame = image.references.instance_uids.index(cited)
        assert np.array_equal(stack[index], labels[frame] == number)  # frame for frame, on its own slice
    if name == "MR_small.dcm":  # parts of the structure the model's description names
        kinds = [s.SegmentedPropertyTypeCodeSequence[0] for s in seg.SegmentSequence]
        assert {k.CodeMeaning for k in kinds} == {"Hippocampus"}
        assert [k.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue for k in kinds] == ["255549009", "255551008"]
    sr = hd.sr.srread(io.BytesIO(out.files["series-sr.dcm"]))
    volumes = sr.content.get_volumetric_roi_measurement_groups()
    found = {group.tracking_identifier: group.get_measurements()[0] for group in volumes}
    assert {k: (m.value, m.unit.value) for k, m in found.items()} == {
        structures[0]: (pytest.approx(0.1), "mL"), structures[1]: (pytest.approx(0.2), "mL")}
    segments = [group.referenced_segment.segment_number if hasattr(group.referenced_segment, "segment_number")
                else group.referenced_segment for group in volumes]
    assert all(segment is not None for segment in segments)


def test_a_png_and_a_jpeg_become_a_new_study_with_the_image_beside_its_answer(tmp_path):
    import cv2

    for suffix in (".png", ".jpg"):
        path = tmp_path / f"film{suffix}"
        cv2.imwrite(str(path), np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (80, 1)))
        image = read_image(path)
        files = answer_files(file_stem(path.name), image, _film_answer(80, 96), CARDS,
                             display=np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (80, 1)), dicom=True)
        assert {"film-image.dcm", "film-seg.dcm", "film-sr.dcm"} <= set(files.files)
        capture = _read(files.files["film-image.dcm"])
        seg, sr = _read(files.files["film-seg.dcm"]), _read(files.files["film-sr.dcm"])
        assert capture.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
        assert seg.StudyInstanceUID == sr.StudyInstanceUID == capture.StudyInstanceUID
        cited = seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID
        assert cited == capture.SOPInstanceUID and (seg.Rows, seg.Columns) == (80, 96)
        assert capture.pixel_array.shape == (80, 96)


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # the source's broken UID, as read and written here
def test_missing_or_broken_uids_and_no_patient_module_still_give_valid_objects_with_a_note(tmp_path):
    ds = _source("RG1_UNCR.dcm")
    ds.StudyInstanceUID = "not.a..uid"
    for tag in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "SeriesInstanceUID"):
        delattr(ds, tag)
    path = tmp_path / "anonymous.dcm"
    ds.save_as(path)
    image = read_image(path)
    files = answer_files("anon", image, _film_answer(image.height, image.width), CARDS, dicom=True,
                         display=np.zeros((image.height, image.width), np.uint8))
    seg, sr = _read(files.files["anon-seg.dcm"]), _read(files.files["anon-sr.dcm"])
    assert seg.StudyInstanceUID != "not.a..uid" and pydicom.uid.UID(seg.StudyInstanceUID).is_valid
    assert seg.StudyInstanceUID == sr.StudyInstanceUID
    assert any("UID" in note for note in files.notes)
    assert "UID" in files.files["anon-report.html"].decode()  # the note reaches the report


def test_an_answer_the_gate_refuses_gets_only_its_report_saying_why():
    image = read_image(dicom_file("RG1_UNCR.dcm"))
    files = answer_files("film", image, _film_answer(image.height, image.width, refused=True), CARDS, dicom=True)
    assert list(files.files) == ["film-report.html"]
    report = files.files["film-report.html"].decode()
    assert "outside what the models were trained on" in report and "no SEG or SR" in report
    with zipfile.ZipFile(io.BytesIO(files.zipped())) as archive:
        assert archive.namelist() == ["film-report.html"]


def test_the_report_is_self_contained_and_follows_the_chosen_threshold():
    image = read_image(dicom_file("RG1_UNCR.dcm"))
    result = _film_answer(image.height, image.width)
    report = answer_files("film", image, result.at(0.1), CARDS,
                          picture=np.zeros((16, 16, 3), np.uint8)).files["film-report.html"].decode()
    assert "http://" not in report and "https://" not in report and "<script" not in report  # opens offline
    assert "data:image/jpeg;base64," in report and "research tool" in report.lower()
    assert "chosen by the user" in report and report.count("<td>nodule</td>") == 2  # both reach 0.1
    for secret in (str(_source("RG1_UNCR.dcm").get(tag)) for tag in SECRETS):
        assert secret not in report


def test_a_locating_model_without_a_validated_froc_gives_evidence_never_findings(tmp_path):
    """Its card's validation sensitivity at one false candidate a film is under the bar: its candidates are drawn
    and listed as evidence, but no count, no finding in the printed answer or the report, no region in the SR."""
    unproven = _card("cxr-nodule", metrics={"val": {"sensitivity_at_1fp": 0.01}})
    assert not unproven.detects and CARDS["locator"].detects
    image = read_image(dicom_file("RG1_UNCR.dcm"))
    result = dataclasses.replace(_film_answer(image.height, image.width), detections=unproven.detects)
    printed = result.to_dict()
    assert printed["findings"] == [] and [row["candidate"] for row in printed["evidence"]] == [1]
    files = answer_files("film", image, result, CARDS | {"locator": unproven}, picture=np.zeros((8, 8, 3), np.uint8),
                         dicom=True)
    report = files.files["film-report.html"].decode()
    assert "Evidence, not detections" in report and "not nodules" in report
    sr = hd.sr.srread(io.BytesIO(files.files["film-sr.dcm"]))
    assert not [g for g in sr.content.get_planar_roi_measurement_groups() if "candidate" in g.tracking_identifier]
