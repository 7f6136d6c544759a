"""The DICOM listener against a real Orthanc: a CR film received by C-STORE is answered and its SEG and SR sent on by
C-STORE, filed beside the film's study; an image the gate refuses is logged, not sent; an aborted association is
logged and the listener goes on."""

from __future__ import annotations

import argparse
import io
import time

import pydicom
import pytest

from medlib.answers.diagnose_files import Answers
from medlib.cli.answer import answering
from medlib.errors import PacsError
from medlib.pacs import Pacs, PacsSettings
from medlib.pacs.listener import Destination, Listener
from tests.conftest import ROOT, _free_port, dicom_file
from tests.pacs_servers import PASSWORD, USER, orthanc

pytest.importorskip("tensorflow")
pytest.importorskip("pynetdicom")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """Orthanc as the node answers go to, and a listener forwarding to it; the listener's log lines."""
    with orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        models = {name: str(ROOT / "models" / name) for name in ("cxr-pneumonia", "cxr-anatomy", "cxr-nodule")}
        args = argparse.Namespace(classifier=models["cxr-pneumonia"], segmenter=models["cxr-anatomy"],
                                  locator=models["cxr-nodule"], volume_model="none", method="gradcam-sharp")
        answer = answering(args)
        lines: list[dict] = []
        listener = Listener("MEDLIB", _free_port(), lambda paths, out: list(answer(paths, out, Answers(True, True))),
                            tmp_path_factory.mktemp("received"), Destination(server.ae_title, "127.0.0.1",
                                                                             server.dicom_port),
                            lines.append, host="127.0.0.1")
        listener.start(block=False)
        yield server, listener, lines
        listener.stop()


def _store(port: int, paths, abort: bool = False) -> None:
    from pynetdicom import AE, StoragePresentationContexts

    ae = AE(ae_title="MODALITY")
    ae.requested_contexts = StoragePresentationContexts
    association = ae.associate("127.0.0.1", port, ae_title="MEDLIB")
    assert association.is_established
    for path in paths:
        assert association.send_c_store(pydicom.dcmread(path)).Status == 0
    association.abort() if abort else association.release()


def _wait(lines: list[dict], count: int, event: str = "answer") -> list[dict]:
    deadline = time.monotonic() + 180
    while sum(line.get("event") == event for line in lines) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return [line for line in lines if line.get("event") == event]


def test_a_film_received_is_answered_and_its_seg_and_sr_sent_on_beside_its_study(node):
    server, listener, lines = node
    _store(listener.port, [dicom_file("RG1_UNCR.dcm")])
    answer = _wait(lines, 1)[0]
    assert answer["in_distribution"] and sorted(n.rsplit("-", 1)[-1] for n in answer["sent"]) == ["seg.dcm", "sr.dcm"]
    assert [s["status"] for s in answer["statuses"]] == ["0x0000", "0x0000"]
    association = next(line for line in lines if line["event"] == "association")
    assert association["from"].startswith("MODALITY@") and association["instances"] == 1
    source = pydicom.dcmread(dicom_file("RG1_UNCR.dcm"), stop_before_pixels=True)
    pacs = Pacs(PacsSettings(server.url, username=USER, password=PASSWORD))
    held = [pydicom.dcmread(io.BytesIO(data)) for data in pacs.retrieve(source.StudyInstanceUID)]
    assert sorted(str(ds.Modality) for ds in held) == ["SEG", "SR"]
    assert all((ds.PatientID, ds.StudyInstanceUID) == (source.PatientID, source.StudyInstanceUID) for ds in held)


def test_a_refused_image_is_logged_not_sent_and_an_aborted_association_does_not_stop_it(node):
    server, listener, lines = node
    before = server.get("/statistics")["CountInstances"]
    _store(listener.port, [dicom_file("CT_small.dcm")], abort=True)
    assert _wait(lines, 1, "aborted")
    _store(listener.port, [dicom_file("CT_small.dcm")])  # the same again, released: answered
    refused = _wait(lines, 2)[-1]
    assert refused["sent"] == [] and "gate" in refused["why"]
    assert server.get("/statistics")["CountInstances"] == before


def test_a_forward_address_is_read_or_refused_in_one_line():
    assert Destination.parse("PACS@10.0.0.5:104") == Destination("PACS", "10.0.0.5", 104)
    for wrong in ("PACS", "PACS@host", "@host:104", "PACS@host:0", "A" * 17 + "@host:104"):
        with pytest.raises(PacsError, match="AE@HOST:PORT"):
            Destination.parse(wrong)
