"""Every registered architecture: the smallest input it takes, what it refuses below, and its size; and the
layering: the library's light modules import no TensorFlow, and inference imports no training code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from medlib.errors import ModelError
from tests.conftest import ROOT

# (architecture, smallest side it takes, a side it refuses, parameters at the smallest side, at 128)
SIZES = [
    ("resnet-small", 8, 7, 77_281, 621_089),
    ("seed-cnn", 22, 21, 109_313, 3_304_193),
    ("unet", 8, 12, 483_857, 483_857),
    ("centernet", 8, 12, 488_514, 488_514),
]


@pytest.mark.parametrize(("name", "smallest", "refused", "params", "params_128"), SIZES)
def test_each_architecture_builds_from_its_smallest_input_and_refuses_a_smaller_one(name, smallest, refused, params,
                                                                                     params_128):
    pytest.importorskip("tensorflow")
    from medlib.models.architectures import ARCHITECTURES, build_model

    assert {row[0] for row in SIZES} == set(ARCHITECTURES)  # a new architecture gets a row here
    model = build_model(name, (smallest, smallest, 1), 2)
    assert model.count_params() == params and tuple(model.input_shape[1:]) == (smallest, smallest, 1)
    assert build_model(name, (128, 128, 1), 3).count_params() > 0
    assert build_model(name, (128, 128, 1), 2).count_params() == params_128
    with pytest.raises(ModelError, match=f"{refused}"):
        build_model(name, (refused, refused, 1), 2)


def test_a_u_net_is_as_wide_as_asked():
    pytest.importorskip("tensorflow")
    from medlib.models.architectures import build_model

    assert build_model("unet", (64, 64, 1), 2, width=8).count_params() < 0.3 * build_model(
        "unet", (64, 64, 1), 2).count_params()


def _imported(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_light_modules_import_no_tensorflow_and_inference_no_training():
    loaded = _imported("import medlib, medlib.input, medlib.preprocessing.pipeline, medlib.training, medlib.cli")
    assert not {"tensorflow", "keras"} & loaded
    inference = _imported("import medlib.models.loaded, medlib.answers.diagnose")
    assert not {m for m in inference if m.startswith("medlib.training")}


def test_the_cpus_a_container_may_use_come_from_its_quota(tmp_path):
    import os

    from medlib.limits import available_cpus

    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("50000 100000\n")  # half a CPU: one thread
    assert available_cpus(cpu_max) == 1
    cpu_max.write_text("max 100000\n")  # no quota: the CPUs the process may run on
    assert available_cpus(cpu_max) == len(os.sched_getaffinity(0))
    cpu_max.write_text("6400000 100000\n")  # a quota above the CPUs there are
    assert available_cpus(cpu_max) == len(os.sched_getaffinity(0))
    assert available_cpus(tmp_path / "absent") == len(os.sched_getaffinity(0))
