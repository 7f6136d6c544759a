"""A run that survives its process: the state at the end of each epoch, and the restart from the latest one.

Keras' ``BackupAndRestore`` callback keeps the weights, the optimiser and the epoch, but not what the run's
monitor has learned (the history, the best and kept epochs, the patience), and under several workers each
would write the same files. A :class:`Backup` keeps all of it, one folder per worker, and the two latest epochs,
so that workers that stopped one epoch apart can agree on one they all have (:func:`agreed_epoch`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

KEPT = 2
"""Backups kept per worker: the latest epochs, so that workers one epoch apart share one."""

_STATE = ("history", "best", "best_epoch", "wait", "kept_epoch", "ended")


class Backup:
    """The end-of-epoch state of one worker of a run, in ``folder/worker-<index>/epoch-<n>``."""

    def __init__(self, folder: Path, worker: int = 0) -> None:
        self.folder = Path(folder) / f"worker-{worker}"

    def epochs(self) -> list[int]:
        """The epochs (1 = the first finished) whose state is complete here, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(int(p.name.split("-")[1]) for p in self.folder.glob("epoch-*") if (p / "state.json").is_file())

    def save(self, model: Any, monitor: Any, epochs_done: int) -> None:
        """Write the state after ``epochs_done`` epochs (weights with the optimiser, and the monitor's state),
        whole or not at all, and drop all but the :data:`KEPT` latest."""
        target = self.folder / f"epoch-{epochs_done:05d}"
        scratch = self.folder / f".epoch-{epochs_done:05d}.part-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        model.save_weights(scratch / "model.weights.h5")
        if monitor.kept_weights is not None:
            np.savez(scratch / "kept.npz", *monitor.kept_weights)
        state = {name: getattr(monitor, name) for name in _STATE}
        state["best"] = None if not np.isfinite(monitor.best) else float(monitor.best)
        state["best_scores"] = None if monitor.best_scores is None else np.asarray(monitor.best_scores).tolist()
        state["seconds"] = time.perf_counter() - monitor.started
        (scratch / "state.json").write_text(json.dumps(state), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(scratch, target)
        for old in self.epochs()[:-KEPT]:
            shutil.rmtree(self.folder / f"epoch-{old:05d}", ignore_errors=True)

    def restore(self, model: Any, monitor: Any, epochs_done: int) -> None:
        """Load the state after ``epochs_done`` epochs into the model (weights and optimiser: build both
        first) and the monitor; its clock goes on from the time the run had taken."""
        source = self.folder / f"epoch-{epochs_done:05d}"
        model.load_weights(source / "model.weights.h5")
        state = json.loads((source / "state.json").read_text(encoding="utf-8"))
        for name in _STATE:
            setattr(monitor, name, state[name])
        monitor.best = -np.inf if state["best"] is None else state["best"]
        monitor.best_scores = None if state["best_scores"] is None else np.asarray(state["best_scores"])
        if (source / "kept.npz").is_file():
            with np.load(source / "kept.npz") as kept:
                monitor.kept_weights = [kept[f"arr_{i}"] for i in range(len(kept.files))]
        monitor.started = time.perf_counter() - state["seconds"]

    def remove(self) -> None:
        """Remove this worker's state (the run has ended), and the run's folder once no worker has any left."""
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()
        except OSError:
            pass  # another worker's state is still there


def agreed_epoch(placement: Any, backup: Backup) -> int:
    """The latest epoch whose state every worker has (0: start afresh): workers stopped by a lost peer may be
    one epoch apart, and each keeps its two latest."""
    mine = backup.epochs()
    if placement.workers == 1:
        return mine[-1] if mine else 0
    import tensorflow as tf

    strategy = placement.strategy

    @tf.function
    def everyone(value):
        return strategy.gather(strategy.run(lambda: tf.reshape(tf.identity(value), [1])), axis=0)

    latest = int(min(everyone(tf.constant(mine[-1] if mine else 0, tf.int64)).numpy()))
    if latest and latest not in mine:
        from medlib.training.distribute import ClusterError

        raise ClusterError(f"worker {placement.index} has no state of epoch {latest}, which the others resume "
                           f"from (it has {mine or 'none'}); start every worker again without their backups")
    return latest
