"""How fast the training input is made: augmentation one call per batch (what training does) against one call per
sample (what it did before), alone and under a model's training steps, on PneumoniaMNIST.

Usage: python benchmarks/training_input.py [--batch 32] [--epochs 4]
The two inputs take turns, epoch by epoch (this machine's speed drifts over minutes, so a slow spell hits both),
after one epoch each that fills tf.data's cache and compiles; each figure is the median and the fastest of
``--epochs`` epochs: wall seconds (and this process's CPU seconds in the median epoch). Prints one line per figure
and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medlib.datasets import load_dataset  # noqa: E402
from medlib.training import TrainConfig, resolve  # noqa: E402
from medlib.training.inputs import Augment, make_inputs  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pneumoniamnist_28.npz"


def per_sample(dataset, recipe, augment: Augment):
    """The input as it was: the cached, shuffled samples augmented by one ``tf.numpy_function`` call each."""
    import tensorflow as tf

    plain = make_inputs(dataset, recipe.train_index, recipe, 0, shuffle=True).unbatch()

    def one(pair, position):
        image, label = tf.numpy_function(augment, [pair[0][None], pair[1][None], position], (tf.float32, tf.float32))
        return tf.ensure_shape(image[0], recipe.input_shape), tf.ensure_shape(label[0], ())

    data = tf.data.Dataset.zip((plain, tf.data.Dataset.counter()))
    data = data.map(one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.batch(recipe.batch_size).prefetch(tf.data.AUTOTUNE)


def timed(epochs: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict[str, float]]:
    """Wall and CPU seconds of each of ``epochs`` (name: a function that runs one epoch), called in turn
    ``repeats`` times after a first call each: the median epoch's and the fastest wall seconds."""
    for epoch in epochs.values():
        epoch()
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, epoch in epochs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            epoch()
            seconds[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    figures = {}
    for name, runs in seconds.items():
        runs.sort()
        wall, cpu = runs[len(runs) // 2]
        figures[name] = {"median_wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                         "fastest_wall_s": round(runs[0][0], 1)}
    return figures


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    if not DATA.is_file():
        print(f"skipped: {DATA} is absent")
        return {}
    import keras

    from medlib.models.architectures import bn_momentum_for, build_model
    from medlib.training.optimisation import optimizer_for

    config = TrainConfig(data=str(DATA), seed=0)
    dataset = load_dataset(config.data, seed=0)
    recipe = resolve(config, dataset)
    recipe.batch_size = args.batch
    augment = Augment(recipe.augmenter, recipe.input_shape, 0)
    inputs = {"per batch": make_inputs(dataset, recipe.train_index, recipe, 0, augment, shuffle=True),
              "per sample": per_sample(dataset, recipe, augment)}
    figures: dict = {"batch": args.batch, "train_images": int(recipe.train_index.size), "epochs": args.epochs}
    read = {f"input {name}": (lambda data=data: sum(1 for _ in data)) for name, data in inputs.items()}
    models = {}
    for name in inputs:
        models[name] = build_model(recipe.model, recipe.input_shape, recipe.num_classes,
                                   bn_momentum_for(recipe.steps_per_epoch), recipe.width)
        models[name].compile(optimizer=optimizer_for(config), loss=recipe.task.loss_function(recipe.num_classes))
    fit = {f"fit {name}": (lambda data=data, model=models[name]: model.fit(data, epochs=1, verbose=0))
           for name, data in inputs.items()}
    for part in (read, fit):
        for name, seconds in timed(part, args.epochs).items():
            figures[name] = seconds
            print(f"{name}: median epoch {seconds['median_wall_s']} s wall ({seconds['cpu_s']} s CPU), fastest "
                  f"{seconds['fastest_wall_s']} s", flush=True)
    figures["fit ratio"] = round(figures["fit per sample"]["median_wall_s"] / figures["fit per batch"]["median_wall_s"],
                                 2)
    figures["keras"] = keras.__version__
    print(f"median training epoch per sample / per batch: {figures['fit ratio']}")
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
