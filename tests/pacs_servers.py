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
