"""The PACS path against a real Orthanc (DICOMweb): settings that never leak a secret, search, retrieve and store;
a film's study answered and sent back, filed beside the film; every failure one line; a hostile PACS refused within
the limits, with nothing written."""

from __future__ import annotations

import io
import json
import time

import pydicom
import pytest

from medlib.cli import main
from medlib.errors import PacsError
from medlib.pacs import Pacs, PacsSettings, pacs_settings
from medlib.pacs.exchange import fetch
from tests.conftest import dicom_file
from tests.pacs_servers import PASSWORD, USER, hostile, orthanc

FILM = "RG1_UNCR.dcm"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with orthanc(tmp_path_factory.mktemp("orthanc")) as running:
        yield running


@pytest.fixture
def signed_in(monkeypatch):
    monkeypatch.setenv("MEDLIB_PACS_USERNAME", USER)
    monkeypatch.setenv("MEDLIB_PACS_PASSWORD", PASSWORD)


def _pacs(server, **changes) -> Pacs:
    return Pacs(PacsSettings(server.url, **({"username": USER, "password": PASSWORD, "timeout": 20} | changes)))


def test_settings_come_from_the_environment_or_the_toml_files_and_never_show_a_secret(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key in ("URL", "USERNAME", "PASSWORD", "TOKEN"):
        monkeypatch.delenv(f"MEDLIB_PACS_{key}", raising=False)
    assert pacs_settings() is None
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[pacs]\nurl = "https://pacs.example.org/dicom-web"\ntoken = "t0ps3cret"\n')
    settings = pacs_settings()
    assert settings.token == "t0ps3cret" and settings.signs_in == "a bearer token" and settings.verify
    assert "t0ps3cret" not in repr(settings) and "t0ps3cret" not in settings.safe_url
    monkeypatch.setenv("MEDLIB_PACS_URL", "http://127.0.0.1:8042/dicom-web/")
    assert pacs_settings().safe_url == "http://127.0.0.1:8042/dicom-web"  # the environment first
    with pytest.raises(PacsError, match="carries credentials") as refused:
        PacsSettings("https://admin:hunter2@pacs.example.org/dicom-web")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(PacsError, match="not both"):
        PacsSettings("https://pacs.example.org", username="a", password="b", token="c")
    with pytest.raises(PacsError, match="http"):
        PacsSettings("ftp://pacs.example.org")


def test_a_films_study_is_found_answered_and_filed_back_beside_the_film(server, signed_in, capsys, tmp_path):
    pacs = _pacs(server)
    source = pydicom.dcmread(dicom_file(FILM), stop_before_pixels=True)
    assert pacs.store([dicom_file(FILM).read_bytes()]).kept == [source.SOPInstanceUID]
    assert main(["pacs", "search", "--pacs", server.url, "--patient", str(source.PatientID), "--modality", "CR",
                 "--since", "20000101"]) == 0
    studies = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["studies"]
    assert [s["study"] for s in studies] == [source.StudyInstanceUID] and studies[0]["images"] == 1
    assert main(["pacs", "search", "--pacs", server.url, "--patient", "nobody"]) == 0
    assert json.loads(capsys.readouterr().out)["studies"] == []
    assert main(["diagnose", "--pacs", server.url, "--study", source.StudyInstanceUID, "--send", "--out",
                 str(tmp_path / "answers")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    sent = lines[-1]
    assert sent["kept"] == len(sent["sent"]) >= 2 and not sent["refused"]
    assert {name.rsplit("-", 1)[-1] for name in sent["sent"]} >= {"seg.dcm", "sr.dcm"}
    held = server.get("/statistics")
    assert (held["CountPatients"], held["CountStudies"]) == (1, 1) and held["CountSeries"] == 1 + len(sent["sent"])
    answers = [pydicom.dcmread(io.BytesIO(data)) for data in pacs.retrieve(source.StudyInstanceUID)]
    kinds = sorted(str(ds.Modality) for ds in answers)
    assert kinds == ["CR", "SEG", "SR"]
    for ds in answers:  # filed beside the film: its patient and study
        assert (ds.PatientID, ds.StudyInstanceUID) == (source.PatientID, source.StudyInstanceUID)


def test_a_series_comes_from_the_pacs_as_one_volume_and_a_refused_one_sends_nothing(server, signed_in, capsys):
    """An MR series of four slices: retrieved as one folder, read as one volume and sent to the volume model whose
    card fits; the gate refuses it (not a hippocampus crop), so nothing is sent, and the last line says so."""
    from tests.test_dicom_answers import _series

    files = _series("MR_small.dcm", 4, 2.5)
    study = str(pydicom.dcmread(io.BytesIO(files[0])).StudyInstanceUID)
    assert len(_pacs(server).store(files).kept) == 4
    assert main(["diagnose", "--pacs", server.url, "--study", study, "--send"]) == 0
    volume, sent = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines())
    assert volume["kind"] == "volume" and volume["size"] == [4, 64, 64] and volume["model"] == "mri-hippocampus"
    assert not volume["in_distribution"] and sent["sent"] == [] and "no answer to send" in sent["note"]


def test_a_brain_mri_series_is_answered_and_its_seg_and_sr_read_back_from_its_study(server, signed_in, capsys,
                                                                                       shared_data):
    """A hippocampus MRI volume of the Decathlon set sent as a DICOM MR series: retrieved as one volume, outlined by
    the volume model, and its SEG (on the series' own slices) and SR filed in its study."""
    from tests.pacs_servers import mr_series

    files = mr_series(shared_data / "hippocampus" / "imagesTr" / "hippocampus_003.nii.gz")
    first = pydicom.dcmread(io.BytesIO(files[0]))
    pacs = _pacs(server)
    assert len(pacs.store(files).kept) == len(files)
    assert main(["diagnose", "--pacs", server.url, "--study", str(first.StudyInstanceUID), "--send"]) == 0
    volume, sent = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines())
    assert volume["kind"] == "volume" and volume["in_distribution"] and volume["model"] == "mri-hippocampus"
    assert sent["kept"] == 2 and not sent["refused"]
    held = [pydicom.dcmread(io.BytesIO(data)) for data in pacs.retrieve(str(first.StudyInstanceUID))]
    answers = {str(ds.Modality): ds for ds in held if ds.Modality in ("SEG", "SR")}
    assert set(answers) == {"SEG", "SR"} and len(held) == len(files) + 2
    seg = answers["SEG"]
    assert seg.FrameOfReferenceUID == first.FrameOfReferenceUID and seg.PatientID == first.PatientID
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Anterior", "Posterior"]


def test_wrong_url_credentials_and_a_silent_server_each_give_one_line(server, tmp_path):
    failures = {
        "refused the credentials": lambda: _pacs(server, password="wrong").search(),
        "cannot reach the PACS": lambda: Pacs(PacsSettings("http://127.0.0.1:9/dicom-web", retries=0)).search(),
        "found nothing for study": lambda: _pacs(server).retrieve("1.2.3.4.5"),
    }

    def silent(handler) -> None:
        time.sleep(3)

    with hostile(silent) as url:
        failures["did not answer"] = lambda: Pacs(PacsSettings(url, timeout=0.5, retries=0)).search()
        for expected, call in failures.items():
            with pytest.raises(PacsError, match=expected) as failed:
                call()
            assert "\n" not in str(failed.value) and PASSWORD not in str(failed.value)


def _multipart(body: bytes, boundary: str = "b0undary") -> bytes:
    return (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").encode() + body + \
        f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize("kind", ["not DICOM", "over the limit, declared", "over the limit, streamed",
                                  "not DICOM JSON"])
def test_a_hostile_pacs_is_refused_within_the_limits_with_nothing_written(kind, monkeypatch, tmp_path):
    monkeypatch.setenv("MEDLIB_MAX_PACS_MB", "1")

    def answer(handler) -> None:
        if kind == "not DICOM JSON":
            body = b"<html>surely not</html>"
            handler.send_response(200)
            handler.send_header("Content-Type", "application/dicom+json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        body = _multipart(b"\x00" * 200 + b"this is not a DICOM file" if kind == "not DICOM" else b"\x00" * (3 << 20))
        handler.send_response(200)
        handler.send_header("Content-Type", 'multipart/related; type="application/dicom"; boundary=b0undary')
        if kind != "over the limit, streamed":
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    (tmp_path / "in").mkdir()
    with hostile(answer) as url:
        pacs = Pacs(PacsSettings(url, retries=0))
        with pytest.raises(PacsError) as refused:
            if kind == "not DICOM JSON":
                pacs.search()
            else:
                fetch(pacs, "1.2.3", tmp_path / "in")
    message = str(refused.value)
    assert "\n" not in message
    assert ("max_pacs_mb" in message) if kind.startswith("over") else ("not DICOM" in message)
    assert not list(tmp_path.rglob("*.dcm"))
