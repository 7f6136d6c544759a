"""A DICOM listener for hospitals without DICOMweb (``pynetdicom``): it receives studies by C-STORE, answers each
film or volume once the sender releases its association (as ``medlib diagnose`` answers a file, with the patient's
identifiers and study kept), and sends the SEG and SR on by C-STORE. An image the gate refuses is logged, not
sent. Each association and each answer is logged as one JSON-able line; a bad association or a failed answer is
logged and the listener goes on.
"""

from __future__ import annotations

import io
import queue
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

from medlib.errors import PacsError
from medlib.pacs.exchange import ANSWER_PARTS, series_paths

Answer = Callable[[list[Path], Path], list[dict[str, Any]]]
"""Answers image paths (a file per film, a folder per series) into a folder: one line per image, naming its
files (:func:`medlib.answers.diagnose_files.diagnose_paths`)."""
Log = Callable[[dict[str, Any]], None]
SUCCESS, CANNOT_UNDERSTAND = 0x0000, 0xC210


@dataclass(frozen=True)
class Destination:
    """Where the answers go: a DICOM node's AE title, host and port."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Destination:
        """``AE@HOST:PORT``, as ``--forward`` takes it."""
        title, _, address = text.partition("@")
        host, _, port = address.rpartition(":")
        if not title or not host or not port.isdigit() or not 0 < int(port) < 65536 or len(title) > 16:
            raise PacsError(f"--forward takes AE@HOST:PORT (an AE title of at most 16 characters), not {text!r}")
        return cls(title, host, int(port))


def send(files: Sequence[bytes], destination: Destination, own_title: str) -> list[dict[str, Any]]:
    """C-STORE each DICOM file to ``destination``: each file's SOP instance and the status the node answered."""
    from pynetdicom import AE

    datasets = [pydicom.dcmread(io.BytesIO(data)) for data in files]
    ae = AE(ae_title=own_title)
    for sop_class in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(sop_class, sorted({str(ds.file_meta.TransferSyntaxUID) for ds in datasets}))
    association = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not association.is_established:
        raise PacsError(f"{destination.ae_title} at {destination.host}:{destination.port} did not accept an "
                        "association: check its AE title, host and port, and that it accepts this one")
    try:
        answers = []
        for ds in datasets:
            status = association.send_c_store(ds)
            answers.append({"instance": str(ds.SOPInstanceUID),
                            "status": f"0x{int(status.Status):04X}" if "Status" in status else "no answer"})
        return answers
    finally:
        association.release()


class Listener:
    """A storage SCP on ``port`` as ``ae_title``; what it receives goes under ``folder``, one folder per association."""

    def __init__(self, ae_title: str, port: int, answer: Answer, folder: Path, forward: Destination | None = None,
                 log: Log = print, host: str = "0.0.0.0") -> None:  # noqa: S104 - a listener for the hospital's nodes
        self.ae_title, self.port, self.host = ae_title, port, host
        self.answer, self.folder, self.forward, self.log = answer, folder, forward, log
        self._work: queue.Queue[tuple[str, Path] | None] = queue.Queue()
        self._server: Any = None
        self._worker = threading.Thread(target=self._answer_each, daemon=True)

    def _received(self, event: Any) -> int:
        where = self.folder / f"association-{id(event.assoc):x}"
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
            series = where / str(ds.SeriesInstanceUID)
            series.mkdir(parents=True, exist_ok=True)
            ds.save_as(series / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
        except Exception as exc:  # noqa: BLE001 - one bad instance is refused; the association goes on
            self.log({"event": "refused instance", "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})
            return CANNOT_UNDERSTAND
        return SUCCESS

    def _released(self, event: Any) -> None:
        where = self.folder / f"association-{id(event.assoc):x}"
        requestor = event.assoc.requestor
        self.log({"event": "association", "from": f"{requestor.ae_title}@{requestor.address}",
                  "instances": sum(1 for _ in where.rglob("*.dcm")) if where.is_dir() else 0})
        if where.is_dir():
            done = where.with_name(f"study-{uuid.uuid4().hex[:12]}")
            where.rename(done)  # the next association of the same peer starts afresh
            self._work.put((requestor.ae_title, done))

    def _aborted(self, event: Any) -> None:
        where = self.folder / f"association-{id(event.assoc):x}"
        self.log({"event": "aborted", "from": f"{event.assoc.requestor.ae_title}@{event.assoc.requestor.address}",
                  "why": "the association was aborted: what it sent is not answered"})
        if where.is_dir():
            shutil.rmtree(where, ignore_errors=True)

    def _answer_each(self) -> None:
        while (item := self._work.get()) is not None:
            sender, folder = item
            try:
                self._answer_study(folder)
            except Exception as exc:  # noqa: BLE001 - logged; the listener goes on with the next study
                self.log({"event": "failed", "from": sender, "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})

    def _answer_study(self, folder: Path) -> None:
        for line in self.answer(series_paths(folder), folder / "answers"):
            files = [Path(line[part]) for part in ANSWER_PARTS if line.get(part)]
            entry = {"event": "answer", "file": Path(line.get("file", "")).name,
                     "in_distribution": line.get("in_distribution"), "error": line.get("error")}
            if line.get("error") or line.get("in_distribution") is False or not files or self.forward is None:
                why = ("unread" if line.get("error") else "refused by the gate: its answers are no finding"
                       if line.get("in_distribution") is False else "no DICOM answer" if not files
                       else "kept here: no --forward node")
                self.log(entry | {"sent": [], "why": why})
                continue
            statuses = send([path.read_bytes() for path in files], self.forward, self.ae_title)
            self.log(entry | {"sent": [path.name for path in files], "to": self.forward.ae_title,
                              "statuses": statuses})

    def start(self, block: bool = True) -> None:
        """Listen (until :meth:`stop`, or for ever where ``block``)."""
        from pynetdicom import AE, AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title=self.ae_title)
        ae.supported_contexts = AllStoragePresentationContexts
        ae.add_supported_context(Verification)
        handlers = [(evt.EVT_C_STORE, self._received), (evt.EVT_RELEASED, self._released),
                    (evt.EVT_ABORTED, self._aborted)]
        self.folder.mkdir(parents=True, exist_ok=True)
        self._worker.start()
        self.log({"event": "listening", "ae_title": self.ae_title, "port": self.port,
                  "forward": f"{self.forward.ae_title}@{self.forward.host}:{self.forward.port}" if self.forward
                  else None})
        self._server = ae.start_server((self.host, self.port), block=block, evt_handlers=handlers)

    def stop(self) -> None:
        """Stop listening, and answer what was already received."""
        if self._server is not None:
            self._server.shutdown()
        self._work.put(None)
        self._worker.join(timeout=600)
