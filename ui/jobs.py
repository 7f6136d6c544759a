"""Training jobs that run in child processes, found again by id after a page reload.

The follower thread of a job (see :mod:`medlib.worker`) never calls Streamlit:
it only appends the training events to its job, under a lock; the page reads
them and draws.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from medlib.datasets import Dataset
from medlib.training import TrainConfig
from medlib.worker import TrainingProcess


@dataclass
class Job:
    """One training run: its settings, the events so far, and how it ended."""

    id: str
    name: str
    config: dict[str, Any]
    dataset_name: str
    started: float = field(default_factory=time.time)
    state: str = "running"
    start: dict[str, Any] | None = None
    epochs: list[dict[str, Any]] = field(default_factory=list)
    last_batch: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    error: str | None = None
    phase: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    process: TrainingProcess | None = None

    def record(self, event: dict[str, Any]) -> None:
        with self.lock:
            kind = event["event"]
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
            else:  # a step after the epochs: calibration, the out-of-distribution gate
                self.phase = event

    def request_stop(self) -> None:
        """Stop within one batch, saving the model kept so far (see medlib.training)."""
        if self.process is not None:
            self.process.stop()

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the job's state for drawing."""
        with self.lock:
            return {"state": self.state, "start": self.start, "epochs": list(self.epochs),
                    "last_batch": self.last_batch, "end": self.end, "error": self.error,
                    "phase": self.phase}


@st.cache_resource
def registry() -> dict[str, Job]:
    """Every job of this server process, by id (shared across sessions; each session keeps its own id)."""
    return {}


def start_job(config: TrainConfig, dataset: Dataset, out: Path) -> Job:
    """Start training in a child process and register the job."""
    job = Job(uuid.uuid4().hex[:12], out.name, config.to_dict(), dataset.name)
    job.process = TrainingProcess(config, dataset, out, job.record)
    registry()[job.id] = job
    job.process.start()
    return job


def find_job(job_id: str | None) -> Job | None:
    return registry().get(job_id) if job_id else None
