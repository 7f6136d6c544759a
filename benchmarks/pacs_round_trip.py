"""How long a study takes from the PACS and back: 5 CR chest films of one study (pydicom-data's RG1 film, 1,955 ×
1,841 pixels of 16 bits, stored uncompressed, interleaved and as lossless JPEG 2000; each its own series, with new
UIDs) stored in a local Orthanc, then retrieved by DICOMweb
(WADO-RS), answered by the three default real-film models (cxr-pneumonia, cxr-anatomy, cxr-nodule; loaded before
the clock starts) and their SEG and SR sent back (STOW-RS), as ``medlib diagnose --pacs URL --study UID --send``
does. Needs Debian's orthanc and orthanc-dicomweb and pydicom-data.

Usage: python benchmarks/pacs_round_trip.py [--repeats 3]
Prints each round trip's seconds, split into retrieve, answer and send, and what the PACS then holds; last, one JSON
line.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medlib.answers.diagnose_files import Answers  # noqa: E402
from medlib.cli.answer import answering  # noqa: E402
from medlib.pacs import Pacs, PacsSettings  # noqa: E402
from medlib.pacs.exchange import fetch, send_answers  # noqa: E402
from tests.conftest import dicom_file  # noqa: E402
from tests.pacs_servers import PASSWORD, USER, orthanc  # noqa: E402

FILMS = ("RG1_UNCR.dcm", "RG1_UNCI.dcm", "RG1_J2KR.dcm", "RG1_UNCR.dcm", "RG1_UNCI.dcm")


def _study() -> tuple[str, list[bytes]]:
    """Five films made one patient's study: new study, series and instance UIDs, one series each."""
    study, files = generate_uid(), []
    for name in FILMS:
        ds = pydicom.dcmread(dicom_file(name))
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = study, generate_uid(), generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID, ds.PatientName = "BENCH-1", "Bench^Patient"
        buffer = io.BytesIO()
        ds.save_as(buffer)
        files.append(buffer.getvalue())
    return study, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    models = {name: str(ROOT / "models" / name) for name in ("cxr-pneumonia", "cxr-anatomy", "cxr-nodule")}
    answer = answering(argparse.Namespace(classifier=models["cxr-pneumonia"], segmenter=models["cxr-anatomy"],
                                          locator=models["cxr-nodule"], volume_model="none",
                                          method="gradcam-sharp"))
    runs = []
    with tempfile.TemporaryDirectory() as scratch, orthanc(Path(scratch)) as server:
        pacs = Pacs(PacsSettings(server.url, username=USER, password=PASSWORD, timeout=60))
        warm = Path(scratch) / "warm"
        warm.mkdir()
        study, files = _study()
        pacs.store(files)
        list(answer(fetch(pacs, study, warm)[:1], warm / "answers", Answers(True, True)))  # builds the graphs
        for repeat in range(repeats):
            study, files = _study()
            pacs.store(files)
            folder = Path(scratch) / f"run{repeat}"
            folder.mkdir()
            started = time.perf_counter()
            paths = fetch(pacs, study, folder)
            retrieved = time.perf_counter()
            lines = list(answer(paths, folder / "answers", Answers(True, True)))
            answered = time.perf_counter()
            sent = send_answers(pacs, lines)
            done = time.perf_counter()
            run = {"films": len(paths), "seconds": round(done - started, 2),
                   "retrieve": round(retrieved - started, 2), "answer": round(answered - retrieved, 2),
                   "send": round(done - answered, 2), "sent": len(sent["sent"]), "kept": sent["kept"]}
            print(run)
            runs.append(run)
        held = server.get("/statistics")
    summary = {"benchmark": "pacs_round_trip", "films_per_study": len(FILMS), "repeats": repeats,
               "median_seconds": statistics.median(r["seconds"] for r in runs),
               "worst_seconds": max(r["seconds"] for r in runs), "runs": runs,
               "pacs_holds": {k: held[k] for k in ("CountPatients", "CountStudies", "CountSeries")}}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
