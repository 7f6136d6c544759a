"""What each ``python -m medlib`` command does (:mod:`medlib.cli` parses the command line and calls these): each
takes the parsed arguments and returns its result (printed as one JSON line), or prints a line per item itself."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medlib.training.config import CONFIG_PARAMS


def print_json(result: dict[str, Any]) -> None:
    print(json.dumps(result, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import Dataset, load_dataset
    from medlib.tasks import tasks_for
    from medlib.training.fingerprint import data_fingerprint

    dataset = load_dataset(args.path, seed=args.seed, n=args.n, size=args.size, fit=args.fit)
    tasks = {"tasks": [task.name for task in tasks_for(dataset)]} if isinstance(dataset, Dataset) else {}
    return dataset.summary() | tasks | {"data_fingerprint": data_fingerprint(dataset)}


def cmd_inspect(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.input import read_image

    return read_image(args.file).summary()


def cmd_phantom(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets.phantom import make_phantom
    from medlib.datasets.phantom_export import write_phantom

    dataset = make_phantom(n=args.n, size=args.size, seed=args.seed)
    out = write_phantom(dataset, Path(args.out))
    return {
        "out": str(out),
        "images": len(dataset),
        "size": args.size,
        "synthetic": True,
        **dataset.summary()["splits"],
    }


def cmd_cache(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from medlib.datasets import cache_dataset, load_dataset

    started = time.perf_counter()

    def report(written: int) -> None:
        rate = written / max(time.perf_counter() - started, 1e-9)
        print(f"cached {written:,} images ({rate:,.0f} a second)", file=sys.stderr, flush=True)

    out = cache_dataset(args.data, args.out, seed=args.seed, n=args.n, size=args.size, fit=args.fit, report=report)
    summary = load_dataset(out).summary()
    return {"out": str(out), "seconds": round(time.perf_counter() - started, 1),
            **{k: summary[k] for k in ("images", "splits", "image_size", "dtype", "channels", "fingerprint")}}


TOLD_CHOICES = ("task", "folds")
"""The derived choices ``medlib train`` states before the first epoch (the card and the Training page hold all)."""


def print_epoch(event: dict[str, Any]) -> None:
    fold = f"fold {event['fold']}/{event['folds']}  " if event.get("fold") else ""
    if event["event"] == "start":
        print(f"{fold}training {event['model']} on {event['train']} images (validation {event['val']}), "
              f"input {event['input_shape']}, batch {event['batch_size']}", flush=True)
        for note in event["notes"] + ([event["init_from"]["note"]] if event.get("init_from") else []):
            print(f"  note: {note}", flush=True)
        if event.get("fold", 1) == 1:  # what the data chose for the whole run, said once
            for name in TOLD_CHOICES:
                choice = event.get("recipe", {}).get(name)
                if choice and choice["derived"]:
                    print(f"  {name}: {choice['value']} — {choice['reason']}", flush=True)
    elif event["event"] == "cache":
        total = f" of {event['total']:,}" if event["total"] else ""
        print(f"too large for memory: cached {event['written']:,}{total} images to {event['folder']}", flush=True)
    elif event["event"] == "calibrate":
        print(f"calibrating on {event['val']} validation images", flush=True)
    elif event["event"] == "gate":
        print(f"fitting the out-of-distribution gate on {event['train']} training images", flush=True)
    elif event["event"] == "epoch":
        scores = "  ".join(f"{k} {v:.4f}" for k, v in event.items() if k.startswith("val_") and isinstance(v, float))
        print(f"{fold}epoch {event['epoch']}  loss {event['loss']:.4f}  {scores}  {event['seconds']:.1f} s",
              flush=True)


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.training import TrainConfig, train

    settings: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    settings |= {p.name: getattr(args, p.name) for p in CONFIG_PARAMS if getattr(args, p.name) is not None}
    settings["data"] = args.data
    if args.init_from:
        settings["init_from"] = args.init_from
    for name in ("preprocess", "augment"):
        if getattr(args, name):
            settings[name] = json.loads(Path(getattr(args, name)).read_text())
    config = TrainConfig.from_dict(settings)
    about = json.loads(Path(args.about).read_text()) if args.about else None
    result = train(config, Path(args.out), progress=print_epoch, overwrite=args.overwrite, about=about,
                   strategy=args.strategy, resume=True if args.resume else None,
                   cache=Path(args.cache) if args.cache else None)
    if result.stored is None:  # a worker of a distributed run: the chief writes the model
        return {"model": None, "ended": result.ended, "epochs": len(result.history),
                "note": "this worker is not the chief; the chief (worker 0) wrote the model"}
    flat = {f"{split}_{k}": v for split, metrics in result.metrics.items() if isinstance(metrics, dict)
            for k, v in metrics.items()}
    if "folds" in result.metrics:
        flat["folds"] = result.metrics["folds"]
    seconds = result.stored.card.training["seconds"]
    return {"model": str(result.stored.path), "ended": result.ended, "epochs": len(result.history),
            "seconds": seconds, **flat}


def cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import VolumeSet, load_dataset, planar
    from medlib.models.loaded import open_model
    from medlib.scoring.evaluate import evaluate_split, evaluate_volumes

    loaded = open_model(args.model)
    dataset = load_dataset(args.data, seed=args.seed, fit=loaded.fit)
    if isinstance(dataset, VolumeSet) or loaded.card.dimensions == 3:
        return evaluate_volumes(loaded, dataset, args.split, seed=args.seed)
    return evaluate_split(loaded, planar(dataset, "evaluation"), args.split, seed=args.seed)


def optional_model(path: str) -> Any:
    from medlib.models.loaded import open_model

    return None if path.lower() == "none" else open_model(path)


def shipped_volume_models() -> list[Any]:
    """The volume models that ship with medlib (3-D cards), loaded."""
    from medlib.models.loaded import open_model
    from medlib.store.folders import list_models, shipped_store

    return [open_model(m.path) for m in list_models(shipped_store()) if m.card.dimensions == 3]


def cmd_diagnose(args: argparse.Namespace) -> None:
    from medlib.answers.diagnose_files import Answers, diagnose_paths, image_paths

    classifier, segmenter = optional_model(args.classifier), optional_model(args.segmenter)
    locator = optional_model(args.locator)
    if classifier is None and segmenter is None and locator is None:
        raise ValueError("give a classifier, a segmenter or a locator (all are 'none')")
    paths = image_paths(args.files)
    if not paths:
        raise ValueError(f"no image files found in {', '.join(args.files)}")
    out = Path(args.out) if args.out else None
    if (args.dicom or args.keep_identifiers) and out is None:
        raise ValueError("--dicom and --keep-identifiers write into a folder: give --out DIR")
    answers = Answers(args.dicom, args.keep_identifiers)
    volume_models = shipped_volume_models() if args.volume_model == "auto" else \
        [m for m in (optional_model(args.volume_model),) if m is not None]
    for result in diagnose_paths(paths, classifier, segmenter, out, args.method, locator, volume_models,
                                 answers):
        print_json(result)
        sys.stdout.flush()


def cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.answers.batch import predict_archive

    segmenter = None if args.segmenter == "none" else Path(args.segmenter)
    return predict_archive(Path(args.data), Path(args.out), Path(args.model), segmenter, args.method, args.scheduler,
                           args.workers, args.part_size)


def cmd_gate(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_images
    from medlib.models.loaded import open_model
    from medlib.training.scoring import refit_gate

    loaded = open_model(args.model)
    stored = refit_gate(loaded, [load_images(source, "the gate", seed=args.seed) for source in args.data], args.seed)
    gate = stored.card.gate
    profile = gate.get(loaded.task.gate_signal) or {}
    return {"model": str(stored.path), "fitted_on": gate["fitted_on"], "threshold": profile.get("threshold"),
            "note": gate.get("note")}


def cmd_explain(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_images
    from medlib.models.explanations import write_explanations
    from medlib.models.loaded import open_model

    loaded = open_model(args.model)
    dataset = load_images(args.data, "explanation", seed=args.seed, fit=loaded.fit)
    return write_explanations(loaded, dataset, args.split, Path(args.out), method=args.method, limit=args.limit)
