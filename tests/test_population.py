"""Each model answers the population it learned from: a film's age group from its DICOM PatientAge (never the age
itself) or from the age model; a model whose card names the other group gives no finding, in the headline, the
line, the report and the SR alike, and says why."""

from __future__ import annotations

import io

import pydicom
import pytest

from medlib.answers.files import answer_files
from medlib.gate.population import FilmAge, population_fit
from medlib.input import read_image
from medlib.input.deid import safe_dicom_metadata
from tests.conftest import dicom_file
from tests.test_dicom_answers import CARDS, _film_answer

pytest.importorskip("highdicom")

ADULT = FilmAge("adult", "the file's patient age")


def test_the_age_group_leaves_the_reader_never_the_age(tmp_path):
    ds = pydicom.dcmread(dicom_file("RG1_UNCR.dcm"))
    ds.PatientAge = "093Y"
    ds.save_as(tmp_path / "old.dcm")
    metadata = read_image(tmp_path / "old.dcm").metadata
    assert metadata["AgeGroup"] == "adult" and "093" not in str(metadata)
    ds.PatientAge = "003Y"
    assert safe_dicom_metadata(ds)["AgeGroup"] == "child"
    del ds.PatientAge
    assert "AgeGroup" not in safe_dicom_metadata(ds)


def test_a_model_of_the_other_age_group_does_not_fit_and_says_why():
    child_model, adult_model = CARDS["classifier"], CARDS["locator"]
    assert child_model.ages == "child" and adult_model.ages == "adult"
    misfit, fit = population_fit(child_model, ADULT), population_fit(adult_model, ADULT)
    assert not misfit.fits and fit.fits
    assert misfit.reason.startswith("an adult's film (the file's patient age); cxr-pneumonia learned from "
                                    "children's films (children aged 1 to 5")
    assert population_fit(child_model, None) is None and population_fit(CARDS["classifier"].replace(ages=""),
                                                                         ADULT) is None


def test_an_answer_outside_its_population_is_no_finding_in_the_line_the_report_and_the_sr():
    film = read_image(dicom_file("RG1_UNCR.dcm"))
    result = _film_answer(film.height, film.width)
    assert result.predicted == "PNEUMONIA" and len(result.called()) == 1
    result.population = {part: population_fit(CARDS[part], ADULT) for part in ("classifier", "locator")}
    assert result.predicted is None and result.likeliest == "PNEUMONIA"  # one click away, not a finding
    assert len(result.called()) == 1 and result.fits("locator")  # the nodule model learned from adults
    child = _film_answer(film.height, film.width)
    child.population = {part: population_fit(CARDS[part], FilmAge("child", "cxr-age, 97%"))
                        for part in ("classifier", "locator")}
    assert child.predicted == "PNEUMONIA" and child.called() == []  # now the nodule model is the stranger
    line = result.to_dict()
    assert line["predicted"] is None and line["population_fit"]["classifier"]["fits"] is False
    assert line["population_fit"]["locator"] == {"model": "cxr-nodule", "fits": True,
                                                  "reason": "an adult's film (the file's patient age), as cxr-nodule "
                                                            "learned from"}
    files = answer_files("film", film, result, CARDS, dicom=True)
    import highdicom as hd

    sr = hd.sr.srread(io.BytesIO(files.files["film-sr.dcm"]))
    classes = [g for g in sr.content.get_image_measurement_groups() if "by cxr-pneumonia" in g.tracking_identifier]
    assert classes == []  # PNEUMONIA is not written, present or absent
    assert any("not written as a finding" in note and "cxr-pneumonia" in note for note in files.notes)
    report = files.files["film-report.html"].decode()
    assert "Not for this film" in report and "no finding (not for this film)" in report
