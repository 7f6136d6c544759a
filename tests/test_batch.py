"""Batch prediction on a Dask cluster: the same rows as the serial diagnose, written once, resumable."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT

pytest.importorskip("tensorflow")
pytest.importorskip("distributed")

from medlib.answers.batch import TIMINGS, list_inputs, predict_archive, read_results  # noqa: E402


def _without_timings(row: dict) -> dict:
    return {key: value for key, value in json.loads(json.dumps(row, default=str)).items() if key not in TIMINGS}


def _write_films(root, count: int, size: int, seed: int, patients: int = 1) -> None:
    """``count`` synthetic films as DICOM files, spread over ``patients`` folders of ``root``."""
    from medlib.datasets.phantom import make_phantom
    from medlib.datasets.phantom_export import dicom_bytes

    data = make_phantom(count, size=size, seed=seed)
    for k in range(count):
        folder = root / f"patient-{k % patients}"
        folder.mkdir(exist_ok=True)
        (folder / f"film-{k}.dcm").write_bytes(dicom_bytes(data.images[k, ..., 0], f"film-{k}"))


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    """Seven synthetic films as DICOM files in a tree, and one file that is not an image."""
    root = tmp_path_factory.mktemp("archive")
    _write_films(root, 7, size=64, seed=4, patients=3)
    (root / "patient-0" / "broken.dcm").write_bytes(b"DICM but not really")
    return root


def test_two_workers_give_the_serial_rows_and_a_restart_scores_only_what_is_missing(films, tmp_path):
    from medlib.answers.diagnose_files import diagnose_paths
    from medlib.models.loaded import open_model

    model = ROOT / "models" / "chest-classifier"
    out = tmp_path / "scores.parquet"
    first = predict_archive(films, out, model, None, "gradcam", workers=2, part_size=3, report=lambda line: None)
    files = list_inputs(films, tmp_path / "unused")
    assert first["files"] == first["scored_now"] == len(files) == 8 and first["parts"] == 3
    serial = [_without_timings(r) for r in diagnose_paths(files, open_model(model), None, method="gradcam")]
    rows = [_without_timings(r) for r in read_results(out)]
    assert rows == serial  # row for row, in file order, the error of the broken file included
    assert any("error" in row for row in rows)

    # A run stopped half-way: one part never written, one left half-written. The restart scores that part only.
    missing = sorted(out.glob("part-*.parquet"))[1]
    missing.rename(missing.with_name(missing.name + ".tmp-123"))
    again = predict_archive(films, out, model, None, "gradcam", workers=2, part_size=3, report=lambda line: None)
    assert again["scored_now"] == 3
    assert [_without_timings(r) for r in read_results(out)] == serial  # every file once


def test_a_run_killed_half_way_and_started_again_scores_every_file_once(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    # Enough films, one a part, that a fast machine is still writing parts when the test kills the run.
    films, count = tmp_path / "films", 60
    films.mkdir()
    _write_films(films, count, size=32, seed=5)
    model = ROOT / "models" / "chest-classifier"
    out = tmp_path / "killed.parquet"
    command = [sys.executable, "-m", "medlib", "predict", "--model", str(model), "--data", str(films), "--out",
               str(out), "--workers", "1", "--part-size", "1", "--method", "gradcam"]
    run = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(list(out.glob("part-*.parquet"))) < 2:
        assert run.poll() is None and time.monotonic() < deadline, "the run ended or stalled before two parts"
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)  # the command, its cluster and its worker, at once
    run.wait(timeout=30)
    written = len(list(out.glob("part-*.parquet")))
    assert 2 <= written < count
    again = predict_archive(films, out, model, None, "gradcam", workers=1, part_size=1, report=lambda line: None)
    assert again["scored_now"] == count - written
    rows = read_results(out)
    assert sorted(row["file"] for row in rows) == sorted(str(f) for f in list_inputs(films, tmp_path / "unused"))


def test_a_csv_manifest_lists_its_files_relative_to_itself(tmp_path):
    (tmp_path / "films").mkdir()
    (tmp_path / "list.csv").write_text("\ufeffPath,patient_id\nfilms/b.png,2\nfilms/a.png,1\n", encoding="utf-8")
    assert list_inputs(tmp_path / "list.csv", tmp_path / "unused") == [tmp_path / "films" / "a.png",
                                                                         tmp_path / "films" / "b.png"]


def test_a_volume_model_scores_the_volumes_of_a_part_per_structure(toy_volume_model, tmp_path):
    import pyarrow.parquet as pq

    from medlib.answers.batch import score_part

    loaded, _, root = toy_volume_model
    files = [str(p) for p in sorted((root / "imagesTr").glob("*.nii.gz"))[:2]]
    assert score_part(files, str(tmp_path / "part.parquet"), str(loaded.stored.path), None, "gradcam") == 2
    rows = [json.loads(r) for r in pq.read_table(tmp_path / "part.parquet").column("result").to_pylist()]
    assert all(row["model"] == "spheres" and set(row["structures"]) == {"sphere", "ellipsoid"} for row in rows)
