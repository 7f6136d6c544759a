"""``python -m medlib``: every step of the dashboard as a command.

Each command prints its result last, as one JSON line. A user error exits
with status 2 and one ``error: ...`` line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from medlib.batch import PART_SIZE
from medlib.datasets.assemble import FITS
from medlib.errors import MedlibError
from medlib.explain import METHODS
from medlib.spec import Param
from medlib.training.config import CONFIG_PARAMS
from medlib.training.distribute import STRATEGIES


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error:`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _print_json(result: dict[str, Any]) -> None:
    print(json.dumps(result, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_dataset
    from medlib.fingerprint import data_fingerprint

    dataset = load_dataset(args.path, seed=args.seed, n=args.n, size=args.size, fit=args.fit)
    return dataset.summary() | {"data_fingerprint": data_fingerprint(dataset)}


def _cmd_inspect(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.readers import read_image

    return read_image(args.file).summary()


def _cmd_phantom(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.phantom import make_phantom
    from medlib.phantom_export import write_phantom

    dataset = make_phantom(n=args.n, size=args.size, seed=args.seed)
    out = write_phantom(dataset, Path(args.out))
    return {
        "out": str(out),
        "images": len(dataset),
        "size": args.size,
        "synthetic": True,
        **dataset.summary()["splits"],
    }


def _cmd_cache(args: argparse.Namespace) -> dict[str, Any]:
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


def _print_epoch(event: dict[str, Any]) -> None:
    if event["event"] == "start":
        print(f"training {event['model']} on {event['train']} images (validation {event['val']}), "
              f"input {event['input_shape']}, batch {event['batch_size']}", flush=True)
        for note in event["notes"]:
            print(f"  note: {note}", flush=True)
    elif event["event"] == "calibrate":
        print(f"calibrating on {event['val']} validation images", flush=True)
    elif event["event"] == "gate":
        print(f"fitting the out-of-distribution gate on {event['train']} training images", flush=True)
    elif event["event"] == "epoch":
        scores = "  ".join(f"{k} {v:.4f}" for k, v in event.items() if k.startswith("val_") and isinstance(v, float))
        print(f"epoch {event['epoch']}  loss {event['loss']:.4f}  {scores}  {event['seconds']:.1f} s", flush=True)


def _add_setting(parser: argparse.ArgumentParser, param: Param) -> None:
    """A ``--flag`` for a training setting, from its declaration: its type or choices, range, default and help."""
    kind = {"choices": param.choices} if param.kind == "choice" else {"type": {"int": int, "float": float}[param.kind]}
    allowed = "" if param.kind == "choice" else f"; {param.low:g} to {param.high:g}"
    text = f"{param.help}{allowed} (default {param.default})".lstrip("; ").replace("%", "%%")
    parser.add_argument(f"--{param.name.replace('_', '-')}", **kind, help=text)


def _cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.training import TrainConfig, train

    settings: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    settings |= {p.name: getattr(args, p.name) for p in CONFIG_PARAMS if getattr(args, p.name) is not None}
    settings["data"] = args.data
    for name in ("preprocess", "augment"):
        if getattr(args, name):
            settings[name] = json.loads(Path(getattr(args, name)).read_text())
    config = TrainConfig.from_dict(settings)
    about = json.loads(Path(args.about).read_text()) if args.about else None
    result = train(config, Path(args.out), progress=_print_epoch, overwrite=args.overwrite, about=about,
                   strategy=args.strategy, resume=True if args.resume else None)
    if result.stored is None:  # a worker of a distributed run: the chief writes the model
        return {"model": None, "ended": result.ended, "epochs": len(result.history),
                "note": "this worker is not the chief; the chief (worker 0) wrote the model"}
    flat = {f"{split}_{k}": v for split, metrics in result.metrics.items() for k, v in metrics.items()}
    seconds = result.stored.card["training"]["seconds"]
    return {"model": str(result.stored.path), "ended": result.ended, "epochs": len(result.history),
            "seconds": seconds, **flat}


def _cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_images
    from medlib.inference import evaluate_split, open_model

    loaded = open_model(args.model)
    dataset = load_images(args.data, "evaluation", seed=args.seed, fit=loaded.fit)
    return evaluate_split(loaded, dataset, args.split, seed=args.seed)


def _optional_model(path: str) -> Any:
    from medlib.inference import open_model

    return None if path.lower() == "none" else open_model(path)


def _cmd_diagnose(args: argparse.Namespace) -> None:
    from medlib.diagnose import diagnose_paths, image_paths

    classifier, segmenter = _optional_model(args.classifier), _optional_model(args.segmenter)
    if classifier is None and segmenter is None:
        raise ValueError("give a classifier or a segmenter (both are 'none')")
    paths = image_paths(args.files)
    if not paths:
        raise ValueError(f"no image files found in {', '.join(args.files)}")
    out = Path(args.out) if args.out else None
    for result in diagnose_paths(paths, classifier, segmenter, out, args.method):
        _print_json(result)
        sys.stdout.flush()


def _cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.batch import predict

    segmenter = None if args.segmenter == "none" else Path(args.segmenter)
    return predict(Path(args.data), Path(args.out), Path(args.model), segmenter, args.method, args.scheduler,
                   args.workers, args.part_size)


def _cmd_gate(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_images
    from medlib.inference import open_model
    from medlib.store import update_card
    from medlib.training import fit_gate, validation_split

    loaded = open_model(args.model)
    parts = []
    for source in args.data:
        dataset = load_images(source, "the gate", seed=args.seed)
        train, val, _ = validation_split(dataset, seed=args.seed)
        parts.append((dataset, train, val))
    gate = fit_gate(loaded.model, loaded.task, loaded.pipeline, parts, loaded.mirrors)
    stored = update_card(loaded.stored, {"gate": gate})
    profile = gate.get("features") or gate.get("shape") or {}
    return {"model": str(stored.path), "fitted_on": gate["fitted_on"], "threshold": profile.get("threshold"),
            "note": gate.get("note")}


def _cmd_explain(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_images
    from medlib.inference import open_model, write_explanations

    loaded = open_model(args.model)
    dataset = load_images(args.data, "explanation", seed=args.seed, fit=loaded.fit)
    return write_explanations(loaded, dataset, args.split, Path(args.out), method=args.method, limit=args.limit)


def _default_model(name: str) -> Path:
    """A model that ships with medlib (wherever it is installed)."""
    from medlib.store import shipped_store

    return shipped_store() / name


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _add_data_source(parser: argparse.ArgumentParser, name: str) -> None:
    """The data set argument ``name`` and the options of how it is read: the split's seed, the phantom's size and
    count, and the fit of images of many sizes."""
    parser.add_argument(name, help="a folder, a .zip, a .npz, a cache, or the word 'phantom' for the built-in set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split made where none is given")
    parser.add_argument("--n", type=_positive, default=300, help="phantom only: number of images (default 300)")
    parser.add_argument("--size", type=_positive, default=128, help="phantom only: image side in pixels (default 128)")
    parser.add_argument("--fit", choices=FITS, default=FITS[0],
                        help="images of many sizes become squares: pad (keep the aspect; default) or stretch")


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m medlib`` argument parser with all its commands."""
    parser = _Parser(prog="python -m medlib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    info = commands.add_parser("info", help="summarise a data set (folder, .zip, .npz, cache, or 'phantom')")
    _add_data_source(info, "path")
    info.set_defaults(run=_cmd_info)

    inspect = commands.add_parser("inspect", help="describe one image file (DICOM, PNG, TIFF, NIfTI, ...)")
    inspect.add_argument("file", help="the image file")
    inspect.set_defaults(run=_cmd_inspect)

    phantom = commands.add_parser("phantom", help="write the synthetic chest-film set (.npz, .zip or DICOM folder)")
    phantom.add_argument("--n", type=_positive, default=300, help="number of images (default 300)")
    phantom.add_argument("--size", type=_positive, default=128, help="image side in pixels (default 128)")
    phantom.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    phantom.add_argument("--out", required=True, help="file.npz, file.zip (PNG class folders) or a folder (DICOM)")
    phantom.set_defaults(run=_cmd_phantom)

    cache = commands.add_parser("cache", help="write a data set as a cache that trains from disk (for sets larger "
                                              "than memory)")
    _add_data_source(cache, "data")
    cache.add_argument("--out", required=True, help="the cache folder to write; train on it with --data DIR")
    cache.set_defaults(run=_cmd_cache)

    train = commands.add_parser("train", help="train a model and save it in the model store")
    train.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    train.add_argument("--out", required=True, help="the model folder to write, e.g. models/my-model")
    train.add_argument("--preprocess", help="a preprocessing spec (JSON) from the Preprocessing page")
    train.add_argument("--augment", help="an augmentation spec (JSON) from the Augmentation page")
    train.add_argument("--config", help="a training config (JSON); options given here override it")
    train.add_argument("--about", help="facts for the model card (JSON): description, provenance, license, "
                                       "citation, intended_use")
    for param in CONFIG_PARAMS:
        _add_setting(train, param)
    train.add_argument("--strategy", choices=STRATEGIES, default="auto",
                       help="where to train: one device, every local GPU (mirrored), or one process per machine "
                            "configured by TF_CONFIG (multiworker); auto: mirrored where there are GPUs, else one")
    train.add_argument("--resume", action="store_true",
                       help="keep the run's state after each epoch, and go on from it if the run is started again "
                            "(always on under multiworker)")
    train.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    train.set_defaults(run=_cmd_train)

    evaluate = commands.add_parser("evaluate", help="metrics of a stored model on a data set split")
    evaluate.add_argument("--model", required=True, help="a model folder, e.g. models/my-model")
    evaluate.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                          help="default: test; all: every image, whatever the layout (an external test set)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the split made where none is given")
    evaluate.set_defaults(run=_cmd_evaluate)

    diagnose = commands.add_parser("diagnose", help="the Diagnose page: one JSON line per image (research use only)")
    diagnose.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER", help="image files, or folders of them")
    diagnose.add_argument("--classifier", default=str(_default_model("cxr-pneumonia")),
                          help="a classifier folder, or 'none' (default: the shipped real-film cxr-pneumonia)")
    diagnose.add_argument("--segmenter", default=str(_default_model("cxr-lungs")),
                          help="a segmenter folder, or 'none' (default: the shipped real-film cxr-lungs)")
    diagnose.add_argument("--out", help="a folder for <stem>.png pictures and <stem>-mask.png masks (0/255)")
    diagnose.add_argument("--method", default=METHODS[0], choices=METHODS, help=f"heat map; default: {METHODS[0]}")
    diagnose.set_defaults(run=_cmd_diagnose)

    predict = commands.add_parser("predict", help="score every image of a folder, ZIP, CSV manifest or DICOM tree "
                                                 "on a Dask cluster into Parquet (resumable)")
    predict.add_argument("--model", required=True, help="a classifier folder, e.g. models/cxr-pneumonia")
    predict.add_argument("--segmenter", default="none", help="a segmenter folder too (default: none)")
    predict.add_argument("--data", required=True, help="a folder or DICOM tree, a .zip, or a .csv with a path column")
    predict.add_argument("--out", required=True, help="the Parquet folder to write (FILE.parquet); a run that was "
                                                      "stopped goes on where it stopped")
    predict.add_argument("--scheduler", help="a running Dask scheduler's address (default: a local cluster)")
    predict.add_argument("--workers", type=_positive, default=2, help="local cluster only: worker processes "
                                                                      "(default 2)")
    predict.add_argument("--part-size", type=_positive, default=PART_SIZE,
                         help=f"files per Parquet part (default {PART_SIZE})")
    predict.add_argument("--method", default=METHODS[0], choices=METHODS, help=f"heat map; default: {METHODS[0]}")
    predict.set_defaults(run=_cmd_predict)

    gate = commands.add_parser("gate", help="fit a model's out-of-distribution gate on the images it should accept")
    gate.add_argument("--model", required=True, help="a model folder, e.g. models/cxr-lungs")
    gate.add_argument("--data", required=True, nargs="+", help="data sets of in-distribution images (train split "
                                                               "fits, val split sets the threshold)")
    gate.add_argument("--seed", type=int, default=0, help="seed of the split made where none is given")
    gate.set_defaults(run=_cmd_gate)

    explain = commands.add_parser("explain", help="heat-map overlays of a classifier; localization where masks exist")
    explain.add_argument("--model", required=True, help="a classifier folder, e.g. models/my-model")
    explain.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    explain.add_argument("--split", default="test", choices=["train", "val", "test"], help="default: test")
    explain.add_argument("--out", required=True, help="the folder to write the overlay PNGs to")
    explain.add_argument("--method", default=METHODS[0], choices=METHODS, help=f"default: {METHODS[0]}")
    explain.add_argument("--limit", type=_positive, default=64, help="overlays to write at most (default 64)")
    explain.add_argument("--seed", type=int, default=0, help="seed of the split made where none is given")
    explain.set_defaults(run=_cmd_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], dict[str, Any] | None] = args.run
    try:
        result = run(args)
    except (MedlibError, ValueError, OSError) as exc:
        message = str(exc).replace("\n", " ")
        print(f"error: {message}", file=sys.stderr)
        return 2
    if result is not None:  # a command that prints a line per item (diagnose) has printed them already
        _print_json(result)
    return 0
