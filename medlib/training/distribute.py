"""Where a run trains: on one device, on every local GPU (``MirroredStrategy``) or as one process per machine
(``MultiWorkerMirroredStrategy``, configured by the standard ``TF_CONFIG`` variable).

The plan's batch is the global batch: each step takes that many samples in all, split evenly across the
replicas. Where it does not split evenly it is rounded up to a multiple of the replicas, and the learning rate
follows it linearly (Goyal et al., 2017, "Accurate, large minibatch SGD"), so a replicated run steps like a
run on one device.

Keras 3's ``fit`` does not run under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585: it reduces the
input batch and scalar losses across workers in ways that strategy refuses), so a multi-worker run steps with
:func:`fit_replicated`: the model's own ``train_step`` under ``strategy.run``, with the same callbacks.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from medlib.errors import MedlibError

STRATEGIES = ("auto", "one", "mirrored", "multiworker")
"""``auto``: ``mirrored`` where there are GPUs, else ``one``."""


class ClusterError(MedlibError):
    """A distributed run that cannot start or go on: no cluster, a bad ``TF_CONFIG``, a lost worker."""


@dataclass
class Placement:
    """The strategy a run trains under, and this process's place in it."""

    name: str
    strategy: Any
    replicas: int
    workers: int = 1
    index: int = 0
    """This worker's number in the cluster (0 is the chief, which writes the model store)."""

    @property
    def chief(self) -> bool:
        return self.index == 0

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.workers}


def cluster_task() -> tuple[int, int]:
    """(workers, this worker's index) from ``TF_CONFIG``; a ``chief`` task counts as worker 0."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        raise ClusterError("--strategy multiworker needs TF_CONFIG, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
                           "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' "
                           "on the first machine and index 1 on the second (see the README's Scaling out)")
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        index = int(task["index"]) + (len(chiefs) if task["type"] == "worker" else 0)
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"TF_CONFIG is not a cluster and task ({exc}): {text[:200]}") from exc
    total = len(chiefs) + len(workers)
    if not 0 <= index < total:
        raise ClusterError(f"TF_CONFIG names task {task} but the cluster has {total} worker(s)")
    return total, index


def place(name: str) -> Placement:
    """The strategy called ``name`` (one of :data:`STRATEGIES`). Create it before any other TensorFlow work: a
    multi-worker strategy connects to the other workers as it is made and waits for them."""
    import tensorflow as tf

    from medlib.models.architectures import size_thread_pools

    size_thread_pools()  # before a strategy starts TensorFlow's runtime, which fixes the pools for good
    if name not in STRATEGIES:
        raise ClusterError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        name = "mirrored" if tf.config.list_physical_devices("GPU") else "one"
    if name == "one":
        return Placement("one", tf.distribute.get_strategy(), 1)
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        return Placement("mirrored", strategy, int(strategy.num_replicas_in_sync))
    workers, index = cluster_task()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    return Placement("multiworker", strategy, int(strategy.num_replicas_in_sync), workers, index)


def global_batch(batch: int, replicas: int, learning_rate: float) -> tuple[int, float, str | None]:
    """The global batch for ``replicas`` (``batch`` rounded up to a multiple of them), the learning rate scaled
    with it, and why, where either changed.

    >>> global_batch(32, 2, 1e-3)
    (32, 0.001, None)
    >>> global_batch(30, 4, 1e-3)[:2]
    (32, 0.0010666666666666667)
    """
    rounded = int(math.ceil(batch / replicas) * replicas)
    if rounded == batch:
        return batch, learning_rate, None
    rate = learning_rate * rounded / batch
    return rounded, rate, (f"the batch of {batch} rounded up to {rounded} to split evenly over {replicas} "
                           f"replicas; the learning rate scaled with it to {rate:.3g}")


def fit_replicated(model: Any, placement: Placement, make_batches: Callable[[Any], Any], epochs: int, steps: int,
                   callbacks: Sequence[Any], initial_epoch: int = 0, scorer: Any = None) -> None:
    """Train ``model`` (built and compiled in the placement's scope) for ``epochs`` of ``steps`` steps, calling
    ``callbacks`` as ``fit`` would. ``make_batches(input_context)`` gives one input pipeline's batches of the
    per-replica size, repeated without end; each worker reads its own share of the data.

    After each epoch the batch-norm statistics, which each worker gathers from its own batches, are averaged
    over the workers, and ``scorer`` (a copy of the model outside the strategy, for the callbacks' validation)
    takes the weights. A stop that any worker's callbacks ask for is taken by all, so every worker runs the
    same steps.
    """
    import tensorflow as tf

    strategy = placement.strategy
    batches = iter(strategy.distribute_datasets_from_function(make_batches))
    moving = list(model.non_trainable_variables)

    @tf.function
    def train_step(iterator):
        logs = strategy.run(model.train_step, args=(next(iterator),))
        return strategy.reduce("MEAN", logs["loss"], axis=None)

    @tf.function
    def average_moving():
        values = strategy.run(lambda: [tf.identity(v.value) for v in moving])
        for variable, value in zip(moving, values, strict=True):
            variable.assign(strategy.reduce("MEAN", value, axis=None))

    @tf.function
    def anyone(flag):
        return strategy.reduce("SUM", strategy.run(lambda: tf.identity(flag)), axis=None)

    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    model.stop_training = False
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        loss = 0.0
        for step in range(steps):
            for callback in callbacks:
                callback.on_train_batch_begin(step)
            loss = float(train_step(batches))
            for callback in callbacks:
                callback.on_train_batch_end(step, {"loss": loss})
        if moving:
            average_moving()
        if scorer is not None:
            scorer.set_weights(model.get_weights())
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"loss": loss})
        if float(anyone(tf.constant(1.0 if model.stop_training else 0.0))) > 0:
            break
    for callback in callbacks:
        callback.on_train_end()
