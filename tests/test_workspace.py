"""Private workspaces, the models each visitor sees, and the server's training queue."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import pytest

from medlib.errors import StoreError
from medlib.store.folders import list_models
from medlib.store.workspace import ENDED_GRACE_S, Shelf, Workspaces
from medlib.training.worker import TrainingQueue
from tests.helpers import FAST, blobs


def _fake_model(store: Path, name: str) -> None:
    """A store entry whose card lists it (the shelf never loads the file)."""
    folder = store / name
    folder.mkdir(parents=True)
    (folder / "card.json").write_text('{"task": "classify", "architecture": "cnn", "input_shape": [8, 8, 1], '
                                      '"class_names": ["a", "b"], "file": {"name": "model.keras", "size": 0}}')


def test_each_workspace_is_private_and_shared_models_are_read_only(tmp_path):
    spaces = Workspaces(tmp_path / "spaces")
    shared = tmp_path / "shared"
    _fake_model(shared, "shipped")
    first, second = spaces.create(), spaces.create()
    mine, theirs = Shelf(first.models, (shared,)), Shelf(second.models, (shared,))
    _fake_model(first.models, "mine")
    assert [m.name for m in mine.models()] == ["mine", "shipped"]
    assert [(m.name, m.read_only) for m in theirs.models()] == [("shipped", True)]
    with pytest.raises(StoreError, match="no model named 'mine'"):
        theirs.delete("mine")
    with pytest.raises(StoreError, match="no model named 'mine'"):
        theirs.rename("mine", "taken-over")
    for change in (lambda: mine.delete("shipped"), lambda: mine.rename("shipped", "other")):
        with pytest.raises(StoreError, match="shipped is a shared model"):
            change()
    with pytest.raises(StoreError, match="already exists"):
        mine.rename("mine", "shipped")
    mine.rename("mine", "still-mine")
    mine.delete("still-mine")
    assert [m.name for m in list_models(shared)] == ["shipped"] and list_models(first.models) == []


def test_a_workspace_is_found_by_its_token_and_removed_with_its_session(tmp_path):
    spaces = Workspaces(tmp_path)
    workspace = spaces.create()
    root, token = workspace.root, workspace.token
    assert spaces.find(token) is workspace and spaces.find("not-a-token") is None
    (workspace.models / "file").write_bytes(b"x")
    del workspace  # the session that held it ended
    gc.collect()
    assert not root.exists() and spaces.find(token) is None and len(spaces) == 0


def test_idle_workspaces_and_those_of_ended_sessions_are_swept_unless_busy(tmp_path):
    spaces = Workspaces(tmp_path)
    idle, busy, fresh, left, reloading = (spaces.create() for _ in range(5))
    for workspace in (idle, busy):
        workspace.last_used -= 3600
    left.last_used -= ENDED_GRACE_S + 1  # its tab closed a while ago
    reloading.last_used -= ENDED_GRACE_S / 2  # closed just now: a reload may come back for it
    gone = {left.token, reloading.token}
    assert spaces.sweep(3000, busy=lambda w: w is busy, ended=lambda w: w.token in gone) == [idle.token, left.token]
    assert idle.removed and not idle.root.exists() and left.removed
    assert busy.root.exists() and fresh.root.exists() and reloading.root.exists()


def test_the_folders_of_a_killed_server_are_removed_by_the_next_one(tmp_path, monkeypatch):
    import subprocess
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])  # a process that has ended: its pid names no server
    dead.wait()
    orphan = tmp_path / f"medlib-workspaces-{dead.pid}-abc"
    (orphan / "token" / "models").mkdir(parents=True)
    living = tmp_path / f"medlib-workspaces-{os.getpid()}-def"
    living.mkdir()
    spaces = Workspaces()
    assert not orphan.exists() and living.exists() and spaces.base.parent == tmp_path


def test_the_queue_runs_one_at_a_time_in_order_and_a_waiting_run_can_leave(tmp_path):
    pytest.importorskip("tensorflow")
    from medlib.training import TrainConfig

    events: dict[str, list[dict]] = {"a": [], "b": [], "c": []}
    started = {name: threading.Event() for name in events}
    ended = {name: threading.Event() for name in events}

    def follow(name):
        def on_event(event):
            events[name].append(event)
            if event["event"] == "batch":
                started[name].set()
            if event["event"] == "exit":
                ended[name].set()
        return on_event

    queue = TrainingQueue(1)
    config = TrainConfig(**{**FAST, "epochs": 200})
    runs = {name: queue.submit(config, blobs(), tmp_path / name, follow(name)) for name in events}
    assert started["a"].wait(timeout=180), events["a"][-1:]
    assert [queue.position(runs[name]) for name in events] == [None, 1, 2]
    assert queue.cancel(runs["c"]) and events["c"] == [{"event": "exit", "state": "cancelled"}]
    assert not events["b"]  # still waiting: nothing started
    runs["a"].stop()
    assert started["b"].wait(timeout=180), events["b"][-1:]
    assert ended["a"].is_set() and queue.position(runs["b"]) is None and not queue.cancel(runs["b"])
    runs["b"].stop()
    assert ended["b"].wait(timeout=180)
    assert {m.name for m in list_models(tmp_path)} == {"a", "b"}  # both saved what they had when stopped
    assert queue.running == 0 and queue.waiting == 0
