"""One model's fit: built from the run's plan, trained on its inputs under the monitor, whatever the strategy.

A run without folds fits one; a cross-validated run (:mod:`medlib.training.folds`) fits one per fold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medlib.datasets import Dataset
from medlib.errors import MedlibError
from medlib.models.architectures import ModelError, bn_momentum_for, build_model
from medlib.training.config import Progress, TrainConfig
from medlib.training.distribute import ClusterError, Placement, fit_replicated
from medlib.training.inputs import Augment, make_inputs, mix_batches, weigh_batches
from medlib.training.optimisation import optimizer_for
from medlib.training.plan import RunPlan
from medlib.training.recipe import Choice
from medlib.training.resume import Backup

LOST_WORKER = ("UnavailableError", "AbortedError", "DeadlineExceededError", "CancelledError")
"""TensorFlow's errors when a worker of a multi-worker run is gone."""


def root_cause(exc: Exception) -> str:
    """The Python error inside a TensorFlow error message (TF wraps it in graph-execution text)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [line for line in lines if "Error: " in line and not line.startswith(("[[", "Graph"))]
    return causes[-1] if causes else f"{type(exc).__name__}: {lines[-1] if lines else ''}"


def for_inference(model: Any) -> Any:
    """The same network and weights without the optimizer state (a third of the file size)."""
    import keras

    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def copy_matching_weights(source: Any, target: Any, skip: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Copy ``source``'s weights into each layer of ``target`` (but those named in ``skip``) that has a layer of the
    same name there whose weights have the same shapes; the names of the layers copied and of those left as they
    were.

    A network starts from another's features this way (a backbone learned from thousands of films), its
    head and any layer of another shape learning afresh.
    """
    theirs = {layer.name: layer.get_weights() for layer in source.layers}
    copied, kept = [], []
    for layer in target.layers:
        mine = layer.get_weights()
        if not mine:
            continue
        other = theirs.get(layer.name)
        if layer.name not in skip and other is not None and [w.shape for w in other] == [w.shape for w in mine]:
            layer.set_weights(other)
            copied.append(layer.name)
        else:
            kept.append(layer.name)
    return copied, kept


def start_from(folder: str, model: Any, names: list[str]) -> dict[str, Any]:
    """Copy a stored model's weights into ``model`` wherever a layer matches (:func:`copy_matching_weights`), and
    what the card records of it: the model, its file's hash, the layers copied and those that learn afresh.

    The output layer is copied only where the stored model answers the same classes or structures (``names``): a
    lung segmenter's head would start a nodule model drawing lungs, which it then has to unlearn.
    """
    from medlib.store.folders import get_model, load_model

    path = Path(folder)
    stored = get_model(path.name, path.parent)
    dimensions = len(model.input_shape) - 2
    if stored.card.dimensions != dimensions:
        kinds = {2: "2-D images", 3: "volumes"}
        raise ModelError(f"{stored.name} is a model of {kinds[stored.card.dimensions]}, and this run trains one of "
                         f"{kinds[dimensions]}: start from a model of the same kind")
    source = load_model(stored)
    head = [] if stored.card.class_names == names else [model.layers[-1].name]
    copied, kept = copy_matching_weights(source, model, skip=head)
    if not copied:
        raise ModelError(f"no layer of {stored.name} ({stored.card.architecture}) matches the {model.name} being "
                         "trained (same name and weight shapes); start from a model of the same architecture")
    return {"model": stored.name, "sha256": stored.card.sha256, "architecture": stored.card.architecture,
            "layers_copied": len(copied), "layers_new": kept,
            "note": f"{len(copied)} of {len(copied) + len(kept)} layers with weights copied from {stored.name}"}


class Run:
    """One run's model, inputs and monitor, built from its plan: it fits, then judges what it learned."""

    def __init__(self, config: TrainConfig, plan: RunPlan, dataset: Dataset, placement: Placement,
                 emit: Progress, stop: threading.Event | None) -> None:
        import keras
        import tensorflow as tf

        from medlib.training.monitor import Monitor

        if plan.simulation is not None:  # this fit's training films only: its validation films stay real
            simulated, done = plan.simulation.apply(dataset, plan.train_index, config.seed)
            dataset = plan.task.training_set(simulated)
            plan.choices["simulated nodules"] = Choice(config.nodule_share, done, False)
        self.config, self.plan, self.dataset, self.placement, self.emit = config, plan, dataset, placement, emit
        keras.utils.set_random_seed(config.seed)
        self.mixup = plan.task.mixes(config.mixup)
        self.mixing = tf.Variable(True, trainable=False, name="mixing") if self.mixup else None
        with placement.strategy.scope():
            self.model = build_model(plan.model, plan.input_shape, plan.num_classes,
                                     bn_momentum_for(plan.steps_per_epoch), plan.width, prior=plan.task.prior)
            loss = plan.task.loss_function(plan.num_classes, config.label_smoothing, soft_targets=self.mixup)
            self.initialised = start_from(config.init_from, self.model, plan.task.target_names(dataset)) \
                if config.init_from else None
            self.model.compile(optimizer=optimizer_for(config), loss=loss)
            self.model.optimizer.build(self.model.trainable_variables)
        self.augment = Augment(plan.augmenter, plan.input_shape, config.seed)
        val_inputs = plan.task.validation_inputs(lambda: make_inputs(dataset, plan.val_index, plan, config.seed))
        self.monitor = Monitor(config, plan, dataset, val_inputs, self.augment, emit, stop, None, self.mixing)
        emit({"event": "start", "model": plan.model, "task": plan.task.name, "input_shape": list(plan.input_shape),
              "train": int(plan.train_index.size), "val": int(plan.val_index.size), "batch_size": plan.batch_size,
              "epochs": plan.epochs, "folds": plan.folds, "notes": plan.notes,
              "parameters": int(self.model.count_params()), "init_from": self.initialised,
              "recipe": {name: choice.to_dict() for name, choice in plan.choices.items()}, **placement.to_dict()})

    def batches(self, index: Any, batch: int | None = None) -> Any:
        """Shuffled, augmented training batches of the images at ``index`` (blended where mixup is on)."""
        plan, config = self.plan, self.config
        batches = make_inputs(self.dataset, index, plan, config.seed, self.augment, shuffle=True, batch=batch)
        if self.mixup:  # the class weights travel with the blended samples
            return mix_batches(batches, plan.num_classes, config.mixup, plan.class_weight, config.seed, self.mixing)
        return batches

    def fit(self, initial: int, backup: Backup | None) -> None:
        """Train from epoch ``initial``; a failure inside TensorFlow says which step and with what input."""
        from medlib.training.monitor import SaveEachEpoch

        plan, placement, model = self.plan, self.placement, self.model
        callbacks = [self.monitor] + ([SaveEachEpoch(backup, self.monitor)] if backup is not None else [])
        try:
            if placement.workers > 1:
                self.monitor.scorer = for_inference(model)

                def worker_batches(context):
                    share = plan.train_index[context.input_pipeline_id :: context.num_input_pipelines]
                    batches = self.batches(share, context.get_per_replica_batch_size(plan.batch_size))
                    weighed = batches if self.mixup else weigh_batches(batches, plan.class_weight, plan.num_classes)
                    return weighed.repeat()

                fit_replicated(model, placement, worker_batches, plan.epochs, plan.steps_per_epoch, callbacks,
                               initial, self.monitor.scorer)
            else:
                model.fit(self.batches(plan.train_index), epochs=plan.epochs, initial_epoch=initial, verbose=0,
                          callbacks=callbacks, class_weight=None if self.mixup else plan.class_weight)
        except MedlibError:
            raise
        except Exception as exc:
            if placement.workers > 1 and type(exc).__name__ in LOST_WORKER:
                done = backup.epochs()[-1] if backup is not None and backup.epochs() else 0
                raise ClusterError(f"a worker of the run was lost ({root_cause(exc)}); start every worker again "
                                   f"with the same command: the run goes on after epoch {done}") from exc
            raise ModelError(f"training failed: {root_cause(exc)}") from exc
