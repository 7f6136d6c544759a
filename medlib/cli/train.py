"""The ``train`` command: a model trained and saved in the model store, each epoch printed as it ends."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from medlib.cli.options import add_setting
from medlib.training.config import ABOUT_KEYS, CONFIG_PARAMS
from medlib.training.distribute import STRATEGIES

TOLD_CHOICES = ("task", "folds")
"""The derived choices ``medlib train`` states before the first epoch (the card and the Training page hold all)."""


def add_commands(sub: Any, seeded: list[argparse.ArgumentParser]) -> None:
    """Register ``train`` on ``sub``
    (``seeded``: the parents of a command that draws at random)."""
    train = sub.add_parser("train", help="train a model and save it in the model store")
    train.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    train.add_argument("--out", required=True, help="the model folder to write, e.g. models/my-model")
    train.add_argument("--preprocess", help="a preprocessing spec (JSON) from the Preprocessing page")
    train.add_argument("--augment", help="an augmentation spec (JSON) from the Augmentation page")
    train.add_argument("--config", help="a training config (JSON); options given here override it")
    train.add_argument("--init-from", metavar="DIR", help="a stored model (e.g. models/cxr-lungs) whose weights "
                       "start every layer of the same name and shapes; the card says which")
    train.add_argument("--nodules", metavar="DIR", help="CT nodules in NODE21's layout (e.g. "
                       "../shared/data/node21_nodules) blended into a share of the training films without a finding "
                       "(--nodule-share); validation films never receive any")
    train.add_argument("--also", nargs="+", metavar="DATA", help="further data sets joined to --data (each "
                       "PATH, or PATH:STRUCTURE to name its one outlined structure, e.g. "
                       "'../shared/data/lung_shenzhen:lung field'); a structure a set does not label is learned only "
                       "from the sets that do; lung fields join a set of each lung split by side")
    train.add_argument("--about", help="facts for the model card (JSON): " + ", ".join(ABOUT_KEYS))
    for param in CONFIG_PARAMS:
        add_setting(train, param)
    train.add_argument("--strategy", choices=STRATEGIES, default="auto",
                       help="where to train: one device, every local GPU (mirrored), or one process per machine "
                            "configured by TF_CONFIG (multiworker); auto: mirrored where there are GPUs, else one")
    train.add_argument("--resume", action="store_true",
                       help="keep the run's state after each epoch, and go on from it if the run is started again "
                            "(always on under multiworker)")
    train.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    train.add_argument("--cache", metavar="DIR",
                       help="where a folder or ZIP too large for memory is cached before training (default: beside "
                            "it, NAME.medlib-cache; a cache already there is used again)")
    train.set_defaults(run=cmd_train)


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
    from medlib.scoring.calibration import calibration_line
    from medlib.training import TrainConfig, train

    settings: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    settings |= {p.name: getattr(args, p.name) for p in CONFIG_PARAMS if getattr(args, p.name) is not None}
    settings["data"] = args.data
    for name in ("init_from", "nodules", "also"):
        if getattr(args, name):
            settings[name] = getattr(args, name)
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
    calibration = result.stored.card.calibration
    said = {"calibration": calibration_line(calibration)} if calibration else {}
    return {"model": str(result.stored.path), "ended": result.ended, "epochs": len(result.history),
            "seconds": seconds, **said, **flat}
