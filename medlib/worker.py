"""Training in a child process that a front end follows, stops, or kills.

A separate process keeps TensorFlow's global state away from the host (Streamlit
clears the Keras session after every script run, which breaks a model being
built in a thread of the same process) and lets a stuck or killed run end
without taking the host down. The child sends the training events (see
:func:`medlib.training.train`) through a queue and a last ``exit`` event with
how it ended; a follower thread in the parent hands every event to ``on_event``.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medlib.datasets import Dataset
from medlib.errors import MedlibError
from medlib.training import TrainConfig, train

Event = dict[str, Any]


def _child(config: dict[str, Any], dataset: Dataset, out: str, events, stop) -> None:
    try:
        result = train(TrainConfig.from_dict(config), Path(out), dataset=dataset, progress=events.put, stop=stop)
        events.put({"event": "exit", "state": "stopped" if result.ended == "stopped" else "completed"})
    except MedlibError as exc:
        events.put({"event": "exit", "state": "failed", "error": str(exc)})
    except Exception as exc:  # the child must end with a message, whatever went wrong
        events.put({"event": "exit", "state": "failed", "error": f"{type(exc).__name__}: {exc}"})


class TrainingProcess:
    """One training run in a spawned process; ``on_event`` receives its events in order, then ``exit``."""

    def __init__(self, config: TrainConfig, dataset: Dataset, out: Path, on_event: Callable[[Event], None]) -> None:
        context = multiprocessing.get_context("spawn")
        self._events = context.Queue()
        self._stop = context.Event()
        self._on_event = on_event
        self._process = context.Process(
            target=_child, args=(config.to_dict(), dataset, str(out), self._events, self._stop),
            name=f"train-{out.name}", daemon=True,
        )

    def start(self) -> None:
        self._process.start()
        threading.Thread(target=self._follow, name=f"follow-{self._process.name}", daemon=True).start()

    def stop(self) -> None:
        """Ask the run to end within one batch; it saves the model kept so far (see medlib.training)."""
        self._stop.set()

    def kill(self) -> None:
        """End the process at once: nothing is saved (the store never holds a half-written model)."""
        self._process.kill()

    @property
    def pid(self) -> int | None:
        return self._process.pid

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
                    code = self._process.exitcode
                    error = f"the training process ended unexpectedly (exit code {code})"
                    self._on_event({"event": "exit", "state": "failed", "error": error})
                    return
            self._on_event(event)
            if event["event"] == "exit":
                self._process.join(timeout=10)
                return
