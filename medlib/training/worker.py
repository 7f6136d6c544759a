"""Training in a child process that a front end follows, stops, or kills; a queue that bounds how many run at once.

A separate process keeps TensorFlow's global state away from the host (Streamlit
clears the Keras session after every script run, which breaks a model being
built in a thread of the same process) and lets a stuck or killed run end
without taking the host down. The data set reaches the child as memory-mapped
``.npy`` files in a scratch folder, not as a pickled copy of every pixel. The
child sends the training events (see :func:`medlib.training.train`) through a
queue and a last ``exit`` event with how it ended; a follower thread in the
parent hands every event to ``on_event``.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medlib.datasets import Dataset
from medlib.datasets.dataset import open_shared_dataset, share_dataset
from medlib.datasets.volumes import SHARED_FILE, VolumeSet, open_shared_volumes, share_volumes
from medlib.errors import MedlibError
from medlib.training.config import TrainConfig

Event = dict[str, Any]
#: How much lower the training process's CPU priority is than the server's: on a server that trains and serves
#: pages on the same few CPUs, pages come first and the run takes the CPU they leave (at 10 it still took a
#: tenth of the CPUs from eight visitors waiting for their films; at 19, the lowest priority, the kernel gives it
#: 15/1024 of the weight of a page's thread on a CPU both want).
TRAINING_NICENESS = 19


def _child(config: dict[str, Any], shared: str, out: str, events, stop) -> None:
    from medlib.training import train  # in the child only: the parent never imports the training code

    if hasattr(os, "nice"):
        os.nice(TRAINING_NICENESS)
    try:
        dataset = open_shared_volumes(Path(shared)) if (Path(shared) / SHARED_FILE).is_file() else \
            open_shared_dataset(Path(shared))
        result = train(TrainConfig.from_dict(config), Path(out), dataset=dataset, progress=events.put, stop=stop)
        events.put({"event": "exit", "state": "stopped" if result.ended == "stopped" else "completed"})
    except MedlibError as exc:
        events.put({"event": "exit", "state": "failed", "error": str(exc)})
    except Exception as exc:  # the child must end with a message, whatever went wrong
        events.put({"event": "exit", "state": "failed", "error": f"{type(exc).__name__}: {exc}"})


class TrainingProcess:
    """One training run in a spawned process; ``on_event`` receives its events in order, then ``exit``.

    The data set is written into ``scratch`` (a new temporary folder if none is given) when the run starts, and
    the folder is removed when it ends.
    """

    def __init__(self, config: TrainConfig, dataset: Dataset | VolumeSet, out: Path, on_event: Callable[[Event], None],
                 scratch: Path | None = None) -> None:
        self.config, self.out = config, out
        self._dataset: Dataset | VolumeSet | None = dataset
        self._scratch = scratch
        self._on_event = on_event
        self._process: Any = None
        self._stop: Any = None
        self._ended, self._ending = threading.Event(), threading.Lock()
        self._dead_since: float | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        share = share_volumes if isinstance(self._dataset, VolumeSet) else share_dataset
        self._scratch = share(self._dataset, self._scratch or Path(tempfile.mkdtemp(prefix="medlib-run-")))
        self._dataset = None  # the child maps the files; this object need not keep the pixels
        self._events, self._stop = context.Queue(), context.Event()
        self._process = context.Process(
            target=_child, args=(self.config.to_dict(), str(self._scratch), str(self.out), self._events, self._stop),
            name=f"train-{self.out.name}", daemon=True,
        )
        self._process.start()
        threading.Thread(target=self._follow, name=f"follow-{self._process.name}", daemon=True).start()

    def stop(self) -> None:
        """Ask the run to end within one batch; it saves the model kept so far (see medlib.training)."""
        if self._stop is not None:
            self._stop.set()

    def kill(self) -> None:
        """End the process at once: nothing is saved (the store never holds a half-written model)."""
        if self._process is not None:
            self._process.kill()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def notice_death(self, grace: float = 5.0) -> bool:
        """End the run as failed, with the reason its exit code gives, where the process is gone for more than
        ``grace`` seconds and its follower has not said so (a child killed in the middle of sending an event
        leaves the follower waiting for the rest of it). Returns whether it did."""
        if self._process is None or self._process.is_alive() or self._ended.is_set():
            return False
        self._dead_since = self._dead_since or time.monotonic()
        if time.monotonic() - self._dead_since < grace:
            return False
        return self._end({"event": "exit", "state": "failed", "error": exit_reason(self._process.exitcode)})

    def _end(self, event: Event) -> bool:
        """Hand on the run's one ``exit`` event (False where it was handed on already)."""
        with self._ending:
            if self._ended.is_set():
                return False
            self._ended.set()
        self._on_event(event)
        if self._process is not None:
            self._process.join(timeout=10)
        shutil.rmtree(self._scratch, ignore_errors=True)
        return True

    def _follow(self) -> None:
        while True:
            try:
                event = self._events.get(timeout=0.5)
            except queue.Empty:
                if self._process.is_alive():
                    continue
                try:  # the last events may arrive just after the process ended
                    event = self._events.get(timeout=1.0)
                except queue.Empty:
                    event = {"event": "exit", "state": "failed", "error": exit_reason(self._process.exitcode)}
            if event["event"] == "exit":
                self._end(event)
                return
            if not self._ended.is_set():
                self._on_event(event)


def exit_reason(code: int | None) -> str:
    """What a training process's exit code says, in words."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        hint = " (the system ends a process so when memory runs out: train on fewer or smaller images)" \
            if -code == signal.SIGKILL else ""
        return f"the training process was ended by {name}{hint}"
    return f"the training process ended unexpectedly (exit code {code})"


class TrainingQueue:
    """The training runs of one server: at most ``slots`` at once, the others waiting in the order they came.

    A run ends with an ``exit`` event whatever happens; a run cancelled while it waits ends with state
    ``cancelled`` without starting.
    """

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a training queue needs at least one slot, not {slots}")
        self.slots = slots
        self._running: list[TrainingProcess] = []
        self._waiting: list[TrainingProcess] = []
        self._lock = threading.Lock()

    def submit(self, config: TrainConfig, dataset: Dataset | VolumeSet, out: Path, on_event: Callable[[Event], None],
               scratch: Path | None = None) -> TrainingProcess:
        """Queue a run; it starts at once where a slot is free."""
        run: TrainingProcess

        def follow(event: Event) -> None:
            on_event(event)
            if event["event"] == "exit":
                self._finished(run)

        run = TrainingProcess(config, dataset, out, follow, scratch)
        with self._lock:
            self._waiting.append(run)
        self._start_next()
        return run

    def position(self, run: TrainingProcess) -> int | None:
        """1 for the next run to start, 2 for the one after...; None once it started (or ended)."""
        with self._lock:
            return self._waiting.index(run) + 1 if run in self._waiting else None

    def cancel(self, run: TrainingProcess) -> bool:
        """Take a waiting run out of the queue (it ends as ``cancelled``); False if it has started already."""
        with self._lock:
            if run not in self._waiting:
                return False
            self._waiting.remove(run)
        run._on_event({"event": "exit", "state": "cancelled"})
        return True

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def _finished(self, run: TrainingProcess) -> None:
        with self._lock:
            if run in self._running:
                self._running.remove(run)
        self._start_next()

    def _start_next(self) -> None:
        while True:
            with self._lock:
                if len(self._running) >= self.slots or not self._waiting:
                    return
                run = self._waiting.pop(0)
                self._running.append(run)
            try:
                run.start()
            except (OSError, MedlibError) as exc:  # no disk for the data set, no process: the run fails, alone
                run._on_event({"event": "exit", "state": "failed", "error": f"the run could not start: {exc}"})
