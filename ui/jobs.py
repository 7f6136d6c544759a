"""Training jobs that run in worker threads, found again by id after a page reload.

The worker never calls Streamlit: it only appends the training events to its
job, under a lock; the page reads them and draws.
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
from medlib.errors import MedlibError
from medlib.training import TrainConfig, train


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
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event: dict[str, Any]) -> None:
        with self.lock:
            kind = event["event"]
            if kind == "batch":
                self.last_batch = event
            elif kind == "epoch":
                self.epochs.append(event)
            elif kind == "start":
                self.start = event
            else:
                self.end = event

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the job's state for drawing."""
        with self.lock:
            return {"state": self.state, "start": self.start, "epochs": list(self.epochs),
                    "last_batch": self.last_batch, "end": self.end, "error": self.error}  # fmt: skip


@st.cache_resource
def registry() -> dict[str, Job]:
    """Every job of this server process, by id (shared across sessions; each session keeps its own id)."""
    return {}


def _run(job: Job, config: TrainConfig, dataset: Dataset, out: Path) -> None:
    try:
        result = train(config, out, dataset=dataset, progress=job.record, stop=job.stop)
        state = "stopped" if result.ended == "stopped" else "completed"
    except MedlibError as exc:
        state, job.error = "failed", str(exc)
    except Exception as exc:  # the worker must end with a message, whatever went wrong
        state, job.error = "failed", f"{type(exc).__name__}: {exc}"
    with job.lock:
        job.state = state


def start_job(config: TrainConfig, dataset: Dataset, out: Path) -> Job:
    """Start training in a daemon thread and register the job."""
    job = Job(uuid.uuid4().hex[:12], out.name, config.to_dict(), dataset.name)
    registry()[job.id] = job
    threading.Thread(target=_run, args=(job, config, dataset, out), name=f"train-{job.id}", daemon=True).start()
    return job


def find_job(job_id: str | None) -> Job | None:
    return registry().get(job_id) if job_id else None
