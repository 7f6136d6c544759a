"""Privacy and limits in a real browser: planted patient tags never reach a page, the log or a file;
an upload over ``server.maxUploadSize`` is refused by the server with a clear message."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCREENSHOTS, dicom_file, serve_app
from tests.helpers import EXCEPTION, open_app, settle

pytestmark = pytest.mark.browser


def _files_holding(folder: Path, secret: bytes) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if ".git" in path.parts or not path.is_file() or path.stat().st_size > 50_000_000:
            continue
        if secret in path.read_bytes():
            found.append(str(path))
    return found


def test_planted_patient_tags_are_never_shown_logged_or_written(browser, app_url, browser_store, tmp_path):
    import pydicom

    secret = f"PLANTED{uuid.uuid4().hex[:10].upper()}"
    planted = pydicom.dcmread(dicom_file("CT_small.dcm"))
    planted.PatientName, planted.PatientID = f"{secret}^Jane", f"{secret}-ID"
    planted.PatientBirthDate, planted.InstitutionName = "19010101", f"{secret} General Hospital"
    planted.save_as(tmp_path / "planted.dcm")
    page, errors = open_app(browser, app_url)
    for link, uploader in (("Upload", 0), ("Preprocessing", 0), ("Diagnose", 0)):
        if link != "Upload":  # the app opens on Upload: a click on its own link would rerun it under the upload
            page.get_by_role("link", name=link).click()
            page.get_by_role("heading", name=link).wait_for(timeout=60_000)
        settle(page)
        if link != "Upload":
            page.get_by_text("Upload files" if link == "Diagnose" else "Upload a file").first.click()
            page.get_by_text("Upload an image").first.wait_for(timeout=30_000)  # the uploader replaced the sample
            settle(page)  # the rerun has ended: the uploader will not be drawn anew under the file
        dropzone = page.locator("[data-testid='stFileUploaderDropzoneInput']").nth(uploader)
        dropzone.wait_for(state="attached", timeout=30_000)
        dropzone.set_input_files(str(tmp_path / "planted.dcm"))
        try:
            page.get_by_text("planted.dcm").first.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(ROOT / "artifacts" / f"privacy-{link}-failed.png"))
            raise
        settle(page)
        page.wait_for_timeout(1500)
        assert page.locator(EXCEPTION).count() == 0
        body = page.inner_text("body")
        assert "RescaleIntercept" in body or link != "Upload"  # the technical tags are shown
        assert secret not in body and "19010101" not in body, link
    assert not errors, errors
    page.close()
    assert secret not in (ROOT / "artifacts" / "streamlit.log").read_text(errors="replace")
    assert _files_holding(ROOT, secret.encode()) == []  # nothing uploaded lands in the repository tree
    assert _files_holding(browser_store, secret.encode()) == []


def test_an_upload_over_the_server_limit_is_refused_with_a_clear_message(browser, browser_store, tmp_path):
    big = tmp_path / "too-big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2_200_000))
    with serve_app(browser_store, "streamlit-small-uploads.log", "--server.maxUploadSize", "1") as url:
        page, _ = open_app(browser, url)
        settle(page)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(big))
        page.get_by_text("File must be 1.0MB or smaller.").or_(
            page.get_by_text("File must be 1MB or smaller.")
        ).first.wait_for(timeout=30_000)
        assert page.locator(EXCEPTION).count() == 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "upload-too-big.png"))
        page.close()
