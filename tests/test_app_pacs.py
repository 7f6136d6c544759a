"""AppTest of the Diagnose page's PACS path against a real Orthanc: search, open a film's study, answer it, and send
the answer back into the film's study; without a configured PACS the page offers no such source."""

from __future__ import annotations

import pydicom
import pytest
from streamlit.testing.v1 import AppTest

from medlib.pacs import Pacs, PacsSettings
from tests.conftest import ROOT, dicom_file
from tests.pacs_servers import PASSWORD, USER, orthanc

pytest.importorskip("tensorflow")

FILM = "RG1_UNCR.dcm"


@pytest.fixture
def pacs_page(monkeypatch, tmp_path):
    (tmp_path / "orthanc").mkdir()
    with orthanc(tmp_path / "orthanc") as server:
        Pacs(PacsSettings(server.url, username=USER, password=PASSWORD)).store([dicom_file(FILM).read_bytes()])
        monkeypatch.setenv("MEDLIB_MODELS", str(ROOT / "models"))
        monkeypatch.setenv("MEDLIB_PACS_URL", server.url)
        monkeypatch.setenv("MEDLIB_PACS_USERNAME", USER)
        monkeypatch.setenv("MEDLIB_PACS_PASSWORD", PASSWORD)
        app = AppTest.from_file(str(ROOT / "app_pages" / "diagnose.py"), default_timeout=180)
        app.run()
        yield app, server


def test_a_study_is_searched_opened_answered_and_sent_back_into_its_study(pacs_page):
    app, server = pacs_page
    app.radio(key="dx_source").set_value("From the PACS").run()
    assert any(server.url in c.value and "HTTP basic" in c.value for c in app.caption)
    assert not any(PASSWORD in str(element.value) for kind in ("caption", "markdown", "info", "text_input")
                   for element in getattr(app, kind))
    source = pydicom.dcmread(dicom_file(FILM), stop_before_pixels=True)
    app.text_input(key="dx_pacs_patient").set_value(str(source.PatientID))
    app.button(key="dx_pacs_search").click().run()
    assert app.dataframe[0].value["patient"].tolist() == [str(source.PatientID)]
    app.button(key="dx_pacs_open").click().run()
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    assert app.get("plotly_chart") and app.subheader  # the usual answer, in the viewer
    app.button(key="dx_pacs_send").click().run()
    assert not app.exception
    assert app.success and "the PACS kept 2 of 2" in app.success[0].value
    held = server.get("/statistics")
    assert (held["CountPatients"], held["CountStudies"], held["CountSeries"]) == (1, 1, 3)


def test_without_a_pacs_set_the_page_offers_no_pacs_source(monkeypatch):
    monkeypatch.delenv("MEDLIB_PACS_URL", raising=False)
    monkeypatch.setenv("MEDLIB_MODELS", str(ROOT / "models"))
    app = AppTest.from_file(str(ROOT / "app_pages" / "diagnose.py"), default_timeout=120).run()
    assert "From the PACS" not in app.radio(key="dx_source").options


def test_a_brain_mri_series_opened_from_the_pacs_is_outlined_and_sent_back(pacs_page, shared_data):
    from tests.pacs_servers import mr_series

    app, server = pacs_page
    files = mr_series(shared_data / "hippocampus" / "imagesTr" / "hippocampus_003.nii.gz")
    Pacs(PacsSettings(server.url, username=USER, password=PASSWORD)).store(files)
    app.radio(key="dx_source").set_value("From the PACS").run()
    app.selectbox(key="dx_pacs_modality").set_value("MR")
    app.button(key="dx_pacs_search").click().run()
    assert app.dataframe[0].value["modalities"].tolist() == ["MR"]
    app.button(key="dx_pacs_open").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert any("outlined by mri-hippocampus" in h.value for h in app.subheader)
    app.button(key="dx_pacs_send").click().run()
    assert app.success and "the PACS kept 2 of 2" in app.success[0].value
    held = server.get("/statistics")
    assert held["CountStudies"] == 2 and held["CountInstances"] == 1 + len(files) + 2
