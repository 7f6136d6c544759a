"""A DICOMweb client (``dicomweb-client``): search a PACS's studies (QIDO-RS), retrieve a study's or a series'
instances (WADO-RS) and store answers (STOW-RS). Every failure is one line (:class:`medlib.errors.PacsError`)
that names the PACS by its safe URL and says what to do; every answer is checked: at most ``max_pacs_mb``
(:mod:`medlib.limits`), counted as it arrives, and DICOM, or refused with nothing kept.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pydicom
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from medlib.errors import PacsError
from medlib.limits import limit, raise_hint
from medlib.pacs.settings import PacsSettings

ANY_SYNTAX = (("application/dicom", "*"),)
"""What a retrieve accepts: the instances as the PACS stores them, compressed or not (medlib decodes them); asked for
the default (explicit little endian), a PACS transcodes, or leaves out what it cannot transcode."""
STUDY_FIELDS = ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "ModalitiesInStudy", "StudyDescription",
                "NumberOfStudyRelatedInstances")


@dataclass(frozen=True)
class Study:
    """One study as the PACS lists it."""

    uid: str
    patient_id: str
    patient_name: str
    date: str
    modalities: str
    description: str
    images: int

    def row(self) -> dict[str, Any]:
        return {"study": self.uid, "patient": self.patient_id, "name": self.patient_name, "date": self.date,
                "modalities": self.modalities, "description": self.description, "images": self.images}


@dataclass(frozen=True)
class Stored:
    """What the PACS answered to a store: the instances it kept and those it refused (with its reason code)."""

    kept: list[str]
    refused: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {"kept": len(self.kept), "refused": self.refused}


class _Adapter(HTTPAdapter):
    """Every request with the settings' timeout, retried on a refused connection or a busy server."""

    def __init__(self, timeout: float, retries: int) -> None:
        super().__init__(max_retries=Retry(total=retries, connect=retries, read=0, backoff_factor=0.5,
                                           status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET"}),
                                           raise_on_status=False))
        self.timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def _capped(cap: int, where: str) -> Callable[..., Any]:
    """A response hook that refuses an answer over ``cap`` bytes: by its declared length before reading, else
    counted as it arrives (``content`` reads through ``iter_content`` too)."""

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            response.close()
            raise PacsError(f"the PACS at {where} answered with {int(declared) / 2**20:.0f} MB, more than allowed; "
                            f"{raise_hint('max_pacs_mb')}")
        original = response.iter_content

        def counted(chunk_size: int = 1, decode_unicode: bool = False) -> Iterator[Any]:
            total = 0
            for chunk in original(chunk_size, decode_unicode):
                total += len(chunk)
                if total > cap:
                    response.close()
                    raise PacsError(f"the PACS at {where} sent more than allowed; {raise_hint('max_pacs_mb')}")
                yield chunk

        response.iter_content = counted  # type: ignore[method-assign]
        return response

    return hook


def session(settings: PacsSettings) -> requests.Session:
    """A session that signs in as the settings say, verifies TLS, times out, retries and caps every answer."""
    made = requests.Session()
    adapter = _Adapter(settings.timeout, settings.retries)
    made.mount("http://", adapter)
    made.mount("https://", adapter)
    made.verify = settings.ca_bundle or settings.verify
    if settings.username:
        made.auth = (settings.username, settings.password)
    if settings.token:
        made.headers["Authorization"] = f"Bearer {settings.token}"
    made.hooks["response"].append(_capped(limit("max_pacs_mb"), settings.safe_url))
    return made


def _failure(exc: Exception, settings: PacsSettings, what: str) -> PacsError:
    """One line for a failed request, without the request's URL or credentials."""
    where = settings.safe_url
    if isinstance(exc, PacsError):
        return exc
    if isinstance(exc, requests.exceptions.SSLError):
        return PacsError(f"the TLS certificate of the PACS at {where} could not be verified: name its CA bundle "
                         "(MEDLIB_PACS_CA_BUNDLE)")
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, requests.exceptions.Timeout) or isinstance(reason, ReadTimeoutError):
        return PacsError(f"the PACS at {where} did not answer {what} within {settings.timeout:g} s; try again, or "
                         "raise MEDLIB_PACS_TIMEOUT")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return PacsError(f"cannot reach the PACS at {where}: check the URL and that the server runs")
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        code = exc.response.status_code
        if code in (401, 403):
            return PacsError(f"the PACS at {where} refused the credentials (HTTP {code}, {settings.signs_in}): check "
                             "MEDLIB_PACS_USERNAME and MEDLIB_PACS_PASSWORD, or MEDLIB_PACS_TOKEN")
        if code == 404:
            return PacsError(f"the PACS at {where} found nothing for {what} (HTTP 404): check the UIDs, and that the "
                             "URL is the root of its DICOMweb service")
        return PacsError(f"the PACS at {where} refused {what} (HTTP {code} {exc.response.reason})")
    if isinstance(exc, pydicom.errors.InvalidDicomError | ValueError | KeyError | TypeError | EOFError):
        return PacsError(f"the PACS at {where} answered {what} with something that is not DICOM; nothing was kept")
    return PacsError(f"the PACS at {where} failed {what} ({type(exc).__name__})")


class Pacs:
    """One PACS's DICOMweb service."""

    def __init__(self, settings: PacsSettings) -> None:
        from dicomweb_client import DICOMwebClient

        self.settings = settings
        self._client = DICOMwebClient(settings.url, session=session(settings))
        self._client.set_http_retry_params(retry=False)  # the session retries, as the settings say

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line that says what to do
            raise _failure(exc, self.settings, what) from None

    def search(self, patient: str | None = None, modality: str | None = None, since: str | None = None,
               until: str | None = None, count: int = 100) -> list[Study]:
        """The studies of ``patient`` (its ID), with ``modality`` among theirs, from ``since`` to ``until``
        (``YYYYMMDD``), at most ``count``, as the PACS lists them."""
        filters = {"PatientID": patient, "ModalitiesInStudy": modality}
        if since or until:
            filters["StudyDate"] = f"{since or ''}-{until or ''}"
        found = self._call("the study search", lambda: self._client.search_for_studies(
            fields=list(STUDY_FIELDS), limit=count, search_filters={k: v for k, v in filters.items() if v}))
        return [_study(item, self.settings) for item in found]

    def retrieve(self, study: str, series: str | None = None) -> list[bytes]:
        """The instances of ``study`` (of its ``series`` where given), each as a DICOM file's bytes."""
        what = f"series {series}" if series else f"study {study}"
        datasets = self._call(what, (lambda: self._client.retrieve_series(study, series, media_types=ANY_SYNTAX))
                              if series else (lambda: self._client.retrieve_study(study, media_types=ANY_SYNTAX)))
        files = []
        for dataset in datasets:
            if str(dataset.get("StudyInstanceUID", "")) != study:
                raise PacsError(f"the PACS at {self.settings.safe_url} answered {what} with an instance of another "
                                "study; nothing was kept")
            files.append(self._call(what, lambda dataset=dataset: _file(dataset)))
        if not files:
            raise PacsError(f"the PACS at {self.settings.safe_url} holds no instance of {what}")
        return files

    def store(self, files: Sequence[bytes]) -> Stored:
        """Send DICOM files to the PACS (STOW-RS); what it kept and what it refused."""
        datasets = [pydicom.dcmread(io.BytesIO(data)) for data in files]
        answer = self._call("the store", lambda: self._client.store_instances(datasets))
        kept = [str(item.ReferencedSOPInstanceUID) for item in answer.get("ReferencedSOPSequence", [])]
        refused = [{"instance": str(item.get("ReferencedSOPInstanceUID", "")),
                    "reason": str(item.get("FailureReason", ""))} for item in answer.get("FailedSOPSequence", [])]
        return Stored(kept, refused)


def _file(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _study(item: dict[str, Any], settings: PacsSettings) -> Study:
    try:
        ds = pydicom.Dataset.from_json(item)
    except Exception:  # noqa: BLE001 - a listing that is not DICOM JSON
        raise PacsError(f"the PACS at {settings.safe_url} answered the study search with something that is not "
                        "DICOM JSON") from None

    def text(keyword: str) -> str:
        value = ds.get(keyword, "")
        return "\\".join(map(str, value)) if isinstance(value, pydicom.multival.MultiValue) else str(value or "")

    images = text("NumberOfStudyRelatedInstances")
    return Study(text("StudyInstanceUID"), text("PatientID"), text("PatientName"), text("StudyDate"),
                 text("ModalitiesInStudy"), text("StudyDescription"), int(images) if images.isdigit() else 0)
