"""Training jobs of the app: queued on the server's one training queue, each owned by the workspace that began it.

The follower thread of a job (see :mod:`medlib.training.worker`) never calls Streamlit:
it only appends the training events to its job, under a lock; the page reads
them and draws. A job is found again (after a page reload) only by the
workspace that owns it, so one visitor can neither see nor stop another's run.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from medlib.datasets import Dataset, VolumeSet
from medlib.limits import max_training_runs
from medlib.store.workspace import Workspace
from medlib.training import TrainConfig
from medlib.training.worker import TrainingProcess, TrainingQueue

WAITING, RUNNING = "queued", "running"


@dataclass
class Job:
    """One training run: its owner, settings, the events so far, and how it ended."""

    id: str
    owner: str
    name: str
    config: dict[str, Any]
    dataset_name: str
    started: float = field(default_factory=time.time)
    state: str = WAITING
    start: dict[str, Any] | None = None
    epochs: list[dict[str, Any]] = field(default_factory=list)
    last_batch: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    error: str | None = None
    phase: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    process: TrainingProcess | None = None
    workspace: Workspace | None = None  # held while the run waits or runs, so its folder stays

    @property
    def active(self) -> bool:
        return self.state in (WAITING, RUNNING)

    def record(self, event: dict[str, Any]) -> None:
        with self.lock:
            kind = event["event"]
            if kind != "exit" and self.state == WAITING:
                self.state = RUNNING
            if kind == "batch":
                self.last_batch = event
            elif kind == "epoch":
                self.epochs.append(event)
            elif kind == "start":
                self.start = event
            elif kind == "end":
                self.end = event
            elif kind == "exit":  # how the process ended
                self.state, self.error = event["state"], event.get("error")
                self.workspace = None
            else:  # a step after the epochs: calibration, the out-of-distribution gate
                self.phase = event

    def position(self) -> int | None:
        """Its place in the queue (1: next to start), None once it runs or ended."""
        return training_queue().position(self.process) if self.process is not None and self.active else None

    def request_stop(self) -> None:
        """Leave the queue, or stop within one batch, saving the model kept so far (see medlib.training)."""
        if self.process is not None and not training_queue().cancel(self.process):
            self.process.stop()

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the job's state for drawing; a run whose process is gone without a word is
        marked failed with the reason its exit code gives, so that the page never waits for it."""
        if self.process is not None and self.state == RUNNING:
            self.process.notice_death()
        with self.lock:
            return {"state": self.state, "start": self.start, "epochs": list(self.epochs),
                    "last_batch": self.last_batch, "end": self.end, "error": self.error,
                    "phase": self.phase}


@st.cache_resource
def training_queue() -> TrainingQueue:
    """The server's one training queue: at most ``max_training_runs`` at once (see medlib.limits)."""
    return TrainingQueue(max_training_runs())


@st.cache_resource
def registry() -> dict[str, Job]:
    """Every job of this server process, by id (shared across sessions; each finds only its own)."""
    return {}


def start_job(config: TrainConfig, dataset: Dataset | VolumeSet, out: Path, workspace: Workspace) -> Job:
    """Queue training in a child process for ``workspace`` and register the job."""
    job = Job(uuid.uuid4().hex[:12], workspace.token, out.name, config.to_dict(), dataset.name, workspace=workspace)
    registry()[job.id] = job
    job.process = training_queue().submit(config, dataset, out, job.record, workspace.root / "runs" / job.id)
    return job


def find_job(job_id: str | None, workspace: Workspace) -> Job | None:
    """The job ``job_id`` if ``workspace`` owns it."""
    job = registry().get(job_id) if job_id else None
    return job if job is not None and job.owner == workspace.token else None


def busy(workspace: Workspace) -> bool:
    """Whether a run of ``workspace`` waits or runs (its folder must stay)."""
    return any(job.active and job.owner == workspace.token for job in list(registry().values()))


def forget_ended(alive: Callable[[str], bool]) -> None:
    """Drop the ended jobs whose workspace is gone (``alive(token)`` is False): nobody can see them any more."""
    table = registry()
    for job_id, job in list(table.items()):
        if not job.active and not alive(job.owner):
            table.pop(job_id, None)
