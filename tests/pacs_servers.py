"""PACS servers for the tests: a real Orthanc (Debian's ``orthanc`` with ``orthanc-dicomweb``) on free localhost
ports with its own temporary storage, and a hostile one that answers whatever a test tells it to."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import _free_port

PLUGINS = (Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
           Path("/usr/lib/orthanc/plugins/libOrthancDicomWeb.so"))
USER, PASSWORD = "medlib", "not-a-real-secret"


@dataclass(frozen=True)
class Orthanc:
    """A running Orthanc: its DICOMweb root, its REST root, and its sign-in."""

    url: str
    rest: str
    dicom_port: int
    ae_title: str = "ORTHANC"

    def get(self, path: str) -> object:
        """An answer of Orthanc's own REST API (what it holds, read behind the DICOMweb service)."""
        request = urllib.request.Request(self.rest + path)
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, self.rest, USER, PASSWORD)
        opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager))
        with opener.open(request, timeout=10) as answer:
            return json.loads(answer.read())


@contextmanager
def orthanc(folder: Path) -> Iterator[Orthanc]:
    """Orthanc with DICOMweb and HTTP basic sign-in on free ports, storing under ``folder``; stopped after."""
    binary = shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin:/usr/bin")
    plugin = next((p for p in PLUGINS if p.is_file()), None)
    if binary is None or plugin is None:
        pytest.skip("Orthanc and its DICOMweb plugin are not installed (Debian's orthanc and orthanc-dicomweb; "
                    ".ci/run installs them)")
    http, dicom = _free_port(), _free_port()
    config = {"Name": "medlib-tests", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
              "HttpPort": http, "DicomPort": dicom, "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
              "RegisteredUsers": {USER: PASSWORD}, "Plugins": [str(plugin)],
              "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "HttpTimeout": 20}
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - closed after the server stops
    process = subprocess.Popen([binary, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    server = Orthanc(f"http://127.0.0.1:{http}/dicom-web", f"http://127.0.0.1:{http}", dicom)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.get("/system")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Orthanc did not start: {(folder / 'orthanc.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


Answer = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def hostile(answer: Answer) -> Iterator[str]:
    """A server on a free localhost port that answers every GET with ``answer``; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            try:
                answer(self)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()


def mr_series(nifti: Path) -> list[bytes]:
    """A NIfTI brain MRI volume (an axis-aligned affine) as the DICOM MR series a scanner would send: one slice per
    file along its third axis, placed in the patient (LPS) where the affine puts it, on pydicom's MR_small as a
    template; one new study, series and frame of reference."""
    import io

    import nibabel as nib
    import numpy as np
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from tests.conftest import dicom_file

    volume = nib.load(str(nifti))
    data = np.clip(np.rint(np.asarray(volume.dataobj, np.float32)), 0, 32767).astype(np.int16)
    affine = volume.affine
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    files = []
    for k in range(data.shape[2]):
        ds = pydicom.dcmread(dicom_file("MR_small.dcm"))
        for keyword in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1
        plane = np.ascontiguousarray(data[:, :, k].T)  # rows along the second axis, columns along the first
        ds.Rows, ds.Columns = plane.shape
        ds.PixelSpacing = [float(abs(affine[1, 1])), float(abs(affine[0, 0]))]
        ds.SliceThickness = float(abs(affine[2, 2]))
        ds.ImageOrientationPatient = [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0]  # RAS x and y, in LPS
        ras = affine @ np.array([0.0, 0.0, k, 1.0])
        ds.ImagePositionPatient = [float(-ras[0]), float(-ras[1]), float(ras[2])]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.PixelData = plane.tobytes()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    return files
