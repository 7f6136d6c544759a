"""``python -m medlib``: one JSON line on success, one ``error:`` line and status 2 on a user error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from medlib.cli import main
from tests.conftest import ROOT, dicom_file


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "medlib", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_info_phantom_prints_a_json_summary():
    result = _run("info", "phantom", "--n", "9", "--size", "32")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["synthetic"] is True and summary["images"] == 9
    assert summary["classes"] == ["normal", "nodule", "consolidation"] and summary["masks"] is True


def test_inspect_prints_hounsfield_range(capsys):
    assert main(["inspect", str(dicom_file("CT_small.dcm"))]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["format"] == "dicom" and result["modality"] == "CT"
    assert result["min"] < -800 and result["shape"] == [128, 128] and result["dtype"] == "float32"


def test_phantom_writes_a_dataset_that_info_reads(tmp_path, capsys):
    out = tmp_path / "p.npz"
    assert main(["phantom", "--n", "12", "--size", "32", "--out", str(out)]) == 0
    assert main(["info", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["images"] == 12 and summary["image_size"] == [32, 32]


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "/no/such/file.dcm"],
        ["info", "/no/such/folder"],
        ["info", "phantom", "--n", "-3"],
        ["phantom"],
        ["nosuchcommand"],
    ],
)
def test_user_errors_give_one_error_line_and_status_2(args):
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "Traceback" not in result.stderr


def test_bad_file_is_a_user_error(tmp_path):
    bad = tmp_path / "notes.dcm"
    bad.write_text("not dicom at all")
    result = _run("inspect", str(bad))
    assert result.returncode == 2 and result.stderr.startswith("error: ")


@pytest.mark.parametrize("command", [[], ["info"], ["inspect"], ["phantom"]])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as caught:
        main([*command, "--help"])
    assert caught.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_train_then_evaluate(tmp_path):
    pytest.importorskip("tensorflow")
    data = tmp_path / "set.npz"
    assert main(["phantom", "--n", "30", "--size", "32", "--out", str(data)]) == 0
    trained = _run("train", "--data", str(data), "--epochs", "1", "--out", str(tmp_path / "models" / "m1"))
    assert trained.returncode == 0, trained.stderr
    lines = trained.stdout.strip().splitlines()
    assert lines[0].startswith("training resnet-small") and lines[1].startswith("  task: classify — classification")
    assert lines[2].startswith("epoch 1")
    result = json.loads(lines[-1])
    assert result["ended"] == "completed" and {"test_auc", "val_accuracy"} <= set(result)
    assert result["calibration"].startswith(("Probabilities calibrated on", "No calibration: left out"))
    evaluated = _run("evaluate", "--model", str(tmp_path / "models" / "m1"), "--data", str(data))
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert {"auc", "accuracy", "sensitivity", "specificity", "f1"} <= set(metrics)
    assert metrics["auc"] == pytest.approx(result["test_auc"], abs=1e-4)
    assert metrics["auc_ci"][0] <= metrics["auc"] <= metrics["auc_ci"][1]
    assert {"accuracy_ci", "sensitivity_ci", "specificity_ci", "ppv_ci", "npv_ci", "f1_ci"} <= set(metrics)


def test_evaluate_refuses_a_data_set_that_does_not_fit(toy_classifiers, tmp_path):
    root, _ = toy_classifiers  # two classes, 32-pixel squares
    data = tmp_path / "set.npz"
    assert main(["phantom", "--n", "30", "--size", "32", "--out", str(data)]) == 0  # three classes
    result = _run("evaluate", "--model", str(root / "resnet"), "--data", str(data))
    assert result.returncode == 2 and "knows 2 classes" in result.stderr
