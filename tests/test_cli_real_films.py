"""``diagnose`` and ``evaluate --split all`` from the command line, with the shipped real-film models and the
two committed sample films (no shared data needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT

pytest.importorskip("tensorflow")

SAMPLES = ROOT / "samples"
NORMAL, PNEUMONIA = SAMPLES / "IM-0141-0001.jpeg", SAMPLES / "person1001_bacteria_2932.jpeg"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medlib", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def _lines(result: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_diagnose_prints_a_line_per_file_goes_on_after_a_bad_file_and_writes_label_maps(tmp_path):
    film = cv2.imread(str(NORMAL), cv2.IMREAD_GRAYSCALE)
    wide = tmp_path / "wide16.png"  # a 16-bit film of another shape than any training film
    cv2.imwrite(str(wide), cv2.resize(film, (300, 200)).astype(np.uint16) * 257)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n and then nothing")
    out = tmp_path / "out"
    result = _run("diagnose", str(NORMAL), str(bad), str(wide), "--out", str(out))
    assert result.returncode == 0, result.stderr
    first, broken, third = _lines(result)
    assert broken["file"] == str(bad) and "error" in broken
    for line in (first, third):
        required = {"file", "probabilities", "predicted", "in_distribution", "ood_score", "findings", "seconds",
                    "finding_probability", "finding_threshold", "structures", "measurements"}
        assert required <= set(line)
        assert set(line["probabilities"]) == {"NORMAL", "PNEUMONIA"} and line["in_distribution"] is True
        assert line["predicted"] == "NORMAL" and set(line["structures"]) == {"right lung", "left lung", "heart"}
        # a child's film, outside the adult anatomy model's population: a ratio, or the outline that withholds it
        ratio = line["measurements"].get("cardiothoracic_ratio")
        assert (ratio is not None and 0.3 < ratio < 0.8) or line["unreliable_outlines"]
        assert all(f["kind"] == "nodule" and f["score"] >= line["finding_threshold"] for f in line["findings"])
    assert first["probabilities"]["NORMAL"] == pytest.approx(third["probabilities"]["NORMAL"], abs=0.15)
    labels = cv2.imread(str(out / "wide16-labels.png"), cv2.IMREAD_UNCHANGED)
    # the film's own size; background and both lungs (the heart, on this child's film, may not be drawn)
    assert labels.shape == (200, 300) and {0, 1, 2} <= set(np.unique(labels)) <= {0, 1, 2, 3}
    assert cv2.imread(str(out / "IM-0141-0001-labels.png"), cv2.IMREAD_UNCHANGED).shape == (224, 224)
    assert (out / "IM-0141-0001.png").is_file()


def test_diagnose_answers_the_jsrt_sample_film_with_a_nodule_probability_and_its_anatomy(tmp_path):
    refused = _run("diagnose", str(ROOT / "samples" / "JPCLN012.png"), "--dicom")
    assert refused.returncode != 0 and "--out" in refused.stderr  # the DICOM answer needs a folder to go to
    result = _run("diagnose", str(ROOT / "samples" / "JPCLN012.png"), "--out", str(tmp_path), "--dicom")
    assert result.returncode == 0, result.stderr
    (line,) = _lines(result)
    written = {"labels": "JPCLN012-labels.png", "report": "JPCLN012-report.html", "seg": "JPCLN012-seg.dcm",
               "sr": "JPCLN012-sr.dcm", "image": "JPCLN012-image.dcm"}  # a PNG: its image as a Secondary Capture
    assert {part: Path(line[part]).name for part in written} == written
    assert all((tmp_path / name).is_file() for name in written.values())
    assert 0.0 <= line["finding_probability"] <= 1.0 and 0.0 < line["finding_threshold"] < 1.0
    assert set(line["structures"]) == {"right lung", "left lung", "heart"}
    assert 0.3 < line["measurements"]["cardiothoracic_ratio"] < 0.8
    for finding in line["findings"]:
        assert {"centre", "box", "radius_px", "score", "lung", "zone"} <= set(finding)
        assert finding["score"] >= line["finding_threshold"]


def test_diagnose_a_folder_and_refuse_noise(tmp_path):
    folder = tmp_path / "films"
    folder.mkdir()
    shutil.copy(PNEUMONIA, folder)
    noise = np.random.default_rng(0).integers(0, 256, (256, 256), np.uint8)
    cv2.imwrite(str(folder / "noise.png"), noise)
    lines = {Path(line["file"]).name: line for line in _lines(_run("diagnose", str(folder), "--segmenter", "none"))}
    assert set(lines) == {"person1001_bacteria_2932.jpeg", "noise.png"}
    assert lines["person1001_bacteria_2932.jpeg"]["predicted"] == "PNEUMONIA"
    assert lines["noise.png"]["in_distribution"] is False and lines["noise.png"]["predicted"] is None
    assert lines["noise.png"]["ood_score"] >= 1.0 and lines["noise.png"]["reasons"]


def test_evaluate_all_images_at_the_card_threshold_with_calibration(tmp_path):
    for label, film in (("NORMAL", NORMAL), ("PNEUMONIA", PNEUMONIA)):
        (tmp_path / "external" / label).mkdir(parents=True)
        shutil.copy(film, tmp_path / "external" / label)
    result = _run("evaluate", "--model", str(ROOT / "models" / "cxr-pneumonia"), "--data",
                  str(tmp_path / "external"), "--split", "all")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout.splitlines()[-1])
    assert metrics["n"] == 2 and metrics["split"] == "all"
    assert {"ece", "brier", "threshold", "threshold_source"} <= set(metrics)
    card = json.loads((ROOT / "models" / "cxr-pneumonia" / "card.json").read_text())
    assert metrics["threshold"] == card["threshold"]["value"] and "val (" in metrics["threshold_source"]


def test_evaluate_all_counts_every_image_and_a_lone_test_folder_stays_test(tmp_path):
    from medlib.datasets.phantom import make_phantom
    from medlib.datasets.phantom_export import write_phantom

    archive = write_phantom(make_phantom(n=24, size=128, seed=4), tmp_path / "films.zip")
    model = str(ROOT / "models" / "chest-classifier")
    everything = json.loads(_run("evaluate", "--model", model, "--data", str(archive), "--split", "all")
                            .stdout.splitlines()[-1])
    assert everything["n"] == 24
    test_only = tmp_path / "held-out" / "test"
    for k, name in enumerate(("normal", "nodule", "consolidation")):
        (test_only / name).mkdir(parents=True)
        film = make_phantom(n=3, size=128, seed=9).images[k, ..., 0]
        cv2.imwrite(str(test_only / name / "a.png"), np.round(film * 255).astype(np.uint8))
    held_out = json.loads(_run("evaluate", "--model", model, "--data", str(tmp_path / "held-out")).stdout
                          .splitlines()[-1])
    assert held_out["split"] == "test" and held_out["n"] == 3
