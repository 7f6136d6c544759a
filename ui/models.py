"""Models for the pages: loaded once per file version and shared, used under a lock; a gate on heavy work.

``st.cache_resource`` hands the same Keras model to every session, and Keras'
``predict`` is not thread-safe (TensorFlow issue 61298), so each model comes
with its own lock; callers hold it while they predict.

Every session's script runs in a thread of the one server process. When many
visitors send a full-size film at once, letting all of them decode, diagnose
and draw together makes each wait for all the others (eight at once took 30 s
each on 2 cores, one alone 2 s); :func:`heavy_work` lets as many through as
there are CPUs, and the others wait their turn, first come first served, each
then done in its own time.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from medlib.limits import available_cpus
from medlib.models.loaded import LoadedModel, open_model
from medlib.store.folders import StoredModel


@st.cache_resource(max_entries=6, show_spinner="Loading the model (safe mode)…")
def _load(path: str, sha256: str) -> tuple[LoadedModel, threading.Lock]:
    return open_model(Path(path)), threading.Lock()


def loaded_model(path: Path, sha256: str) -> tuple[LoadedModel, threading.Lock]:
    """The model in ``path`` (a store folder) and its lock; a new file hash loads it again."""
    loaded = _load(str(path), sha256)
    keep_keras_state()  # Keras is imported now: a run cut short by a rerun still keeps its state
    return loaded


def loaded_entry(stored: StoredModel) -> tuple[LoadedModel, threading.Lock]:
    """A stored model, loaded (:func:`loaded_model`) by its folder and its card's file hash."""
    return loaded_model(stored.path, stored.card.sha256)


def keep_keras_state() -> None:
    """Stop Streamlit from clearing Keras' state after every script run, once Keras is imported.

    Streamlit's script runner calls ``keras.backend.clear_session()`` at the end of each run of each session
    whenever Keras is imported. Here that is a full garbage collection and TensorFlow's kernel cache thrown
    away: 0.35 s of CPU holding the interpreter, and the next prediction 0.2 s slower, on every run of every
    page, and a reset of Keras' global state while other sessions' threads predict. The server keeps its models
    for its whole life and trains in child processes, so it never needs that clear.
    """
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.clear_session is not _keep_session:
        keras.backend.clear_session = _keep_session


def _keep_session(*args: object, **kwargs: object) -> None:
    """What ``keras.backend.clear_session`` does in the server: nothing (see :func:`keep_keras_state`)."""


class FirstComeGate:
    """At most ``slots`` threads inside at once; the others wait their turn, first come first served.

    A thread keeps its place across its passes: a page run that read its upload and comes back for the models
    goes before runs that asked after it first did, so each request finishes in its turn instead of every
    request waiting for all the others (a semaphore hands a freed slot to any waiting thread). The place is
    kept for the thread's life, which in Streamlit is one visitor's run (or a few in a row): each run that is
    not a rerun of the one in progress gets a thread of its own, and so a new place at the back.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._inside = 0
        self._waiting: list[tuple[int, int]] = []  # (ticket, thread id), a heap
        self._changed = threading.Condition()
        self._tickets = itertools.count()
        self._own = threading.local()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this thread's turn, and hold a slot while inside."""
        if getattr(self._own, "inside", False):  # a pass inside a pass is the same turn
            yield
            return
        if not hasattr(self._own, "ticket"):
            self._own.ticket = next(self._tickets)
        place = (self._own.ticket, threading.get_ident())
        with self._changed:
            heapq.heappush(self._waiting, place)
            self._changed.wait_for(lambda: self._inside < self.slots and self._waiting[0] == place)
            heapq.heappop(self._waiting)
            self._inside += 1
            self._changed.notify_all()  # the next in line may fit in another slot
        self._own.inside = True
        try:
            yield
        finally:
            self._own.inside = False
            with self._changed:
                self._inside -= 1
                self._changed.notify_all()


@st.cache_resource
def _heavy_work_gate() -> FirstComeGate:
    return FirstComeGate(available_cpus())


@contextmanager
def heavy_work() -> Iterator[None]:
    """Hold one of the server's slots for CPU-heavy work (one per CPU the process may use) while inside."""
    with _heavy_work_gate().turn():
        yield


@contextmanager
def models_in_use(*entries: StoredModel | None) -> Iterator[list[LoadedModel | None]]:
    """The stored models (``None`` for a part left out) loaded and each held under its own lock, in one turn of the
    server's heavy work: what a page predicts with."""
    loaded = [loaded_entry(entry) if entry is not None else None for entry in entries]
    locks = [pair[1] for pair in loaded if pair is not None]
    with heavy_work():
        for lock in locks:
            lock.acquire()
        try:
            yield [pair[0] if pair is not None else None for pair in loaded]
        finally:
            for lock in locks:
                lock.release()
