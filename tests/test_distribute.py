"""Distributed and resumable runs: strategies, the global batch, a run that restarts from its latest epoch, and
two worker processes under MultiWorkerMirroredStrategy that survive losing one of them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medlib.spec import SpecError
from medlib.training import TrainConfig, resolve, train
from medlib.training.distribute import ClusterError, Placement, cluster_task
from medlib.training.recipe import Choice
from medlib.training.resume import Backup
from medlib.training.run import _replicate
from tests.conftest import ROOT, _free_port
from tests.helpers import FAST, blobs

pytest.importorskip("tensorflow")


def test_the_cluster_is_read_from_tf_config(monkeypatch):
    cluster = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert cluster_task() == (3, 2)
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster | {"task": {"type": "chief", "index": 0}}))
    assert cluster_task() == (3, 0)
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster | {"task": {"type": "worker", "index": 5}}))
    with pytest.raises(ClusterError, match="has 3 worker"):
        cluster_task()
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ClusterError, match="needs TF_CONFIG"):
        cluster_task()


def test_a_multi_worker_run_refuses_a_time_limit_and_an_unknown_strategy(tmp_path):
    with pytest.raises(SpecError, match="drop --max-minutes"):
        train(TrainConfig(max_minutes=1.0), tmp_path / "m", dataset=blobs(), strategy="multiworker")
    with pytest.raises(ClusterError, match="choose one of auto, one, mirrored, multiworker"):
        train(TrainConfig(**FAST), tmp_path / "m", dataset=blobs(), strategy="tpu")
    assert not (tmp_path / "m").exists()


def test_the_global_batch_is_split_over_the_replicas_and_the_rate_follows_it():
    config = TrainConfig(**(FAST | {"batch_size": 30, "learning_rate": 1e-3}))
    recipe = resolve(config, blobs())
    scaled = _replicate(recipe, config, Placement("mirrored", None, 4))
    assert recipe.batch_size == 32 and scaled.learning_rate == pytest.approx(1e-3 * 32 / 30)
    assert recipe.choices["replicas"] == Choice(4, "mirrored: each step's batch of 32 is split into 8 per replica")
    assert "rounded up to 32" in recipe.choices["batch size"].reason and not recipe.choices["batch size"].derived
    even = resolve(TrainConfig(**(FAST | {"batch_size": 32})), blobs())
    assert _replicate(even, config, Placement("mirrored", None, 4)) is config and even.batch_size == 32


def test_a_run_started_again_goes_on_from_its_latest_epoch(tmp_path):
    config = TrainConfig(seed=1, **(FAST | {"epochs": 5}))
    out, events = tmp_path / "resumed", []

    def crash_in_epoch_four(event):
        events.append(event)
        if event["event"] == "batch" and event["epoch"] == 4:
            raise KeyboardInterrupt("the machine went away")

    with pytest.raises(KeyboardInterrupt):
        train(config, out, dataset=blobs(), progress=crash_in_epoch_four, resume=True)
    backup = Backup(tmp_path / ".backup-resumed")
    assert backup.epochs() == [2, 3] and not out.exists()
    first = [e for e in events if e["event"] == "epoch"]
    events.clear()
    result = train(config, out, dataset=blobs(), progress=events.append, resume=True, strategy="mirrored")
    again = [e["epoch"] for e in events if e["event"] == "epoch"]
    assert again == [4, 5] and [row["epoch"] for row in result.history] == [1, 2, 3, 4, 5]
    assert result.history[:3] == [{k: v for k, v in e.items() if k in result.history[0]} for e in first[:3]]
    assert result.stored.card.training["resumed_after_epoch"] == 3
    assert result.stored.card.training["strategy"] == "mirrored"
    assert not (tmp_path / ".backup-resumed").exists()


def _worker(index: int, ports: list[int], data: Path, store: Path, log: Path) -> subprocess.Popen:
    cluster = {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    env = os.environ | {"TF_CONFIG": json.dumps(cluster), "TF_CPP_MIN_LOG_LEVEL": "2", "MEDLIB_THREADS": "1"}
    command = [sys.executable, "-m", "medlib", "train", "--data", str(data), "--out", str(store / "two"),
               "--strategy", "multiworker", "--epochs", "6", "--augment", str(data.parent / "no-augment.json"),
               "--early-stopping", "0"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _two_ports() -> list[int]:
    """Two distinct free ports (a port freed by one probe may be handed out again by the next)."""
    ports: set[int] = set()
    while len(ports) < 2:
        ports.add(_free_port())
    return sorted(ports)


def _epochs(log: Path) -> list[int]:
    return [int(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("epoch ")]


def test_two_workers_survive_losing_one_and_end_with_one_model(tmp_path):
    from medlib.datasets import cache_dataset

    data = cache_dataset("phantom", tmp_path / "films", n=60, size=32)
    (tmp_path / "no-augment.json").write_text('{"steps": []}')
    store, logs = tmp_path / "store", [tmp_path / f"w{i}.log" for i in range(2)]
    ports = _two_ports()
    workers = [_worker(i, ports, data, store, logs[i]) for i in range(2)]
    deadline = time.monotonic() + 300
    while max(_epochs(logs[1]), default=0) < 2:
        assert time.monotonic() < deadline and workers[1].poll() is None, logs[1].read_text()[-2000:]
        time.sleep(0.5)
    os.killpg(workers[1].pid, signal.SIGKILL)
    assert workers[0].wait(timeout=120) == 2
    assert "a worker of the run was lost" in logs[0].read_text() and not (store / "two").exists()

    ports = _two_ports()
    logs = [tmp_path / f"again{i}.log" for i in range(2)]
    workers = [_worker(i, ports, data, store, logs[i]) for i in range(2)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0], logs[0].read_text()[-2000:]
    resumed = min(_epochs(logs[0]))
    assert resumed >= 2 and _epochs(logs[0]) == _epochs(logs[1]) == list(range(resumed, 7))
    card = json.loads((store / "two" / "card.json").read_text())
    assert [row["epoch"] for row in card["history"]] == [1, 2, 3, 4, 5, 6]
    assert card["training"]["strategy"] == "multiworker" and card["training"]["workers"] == 2
    assert card["training"]["resumed_after_epoch"] == resumed - 1
    # the result is the last JSON line: TensorFlow may log the chief's closed port after it on the way out
    result = [line for line in logs[1].read_text().splitlines() if line.startswith("{")][-1]
    assert json.loads(result)["model"] is None
    assert not (store / ".backup-two").exists()
