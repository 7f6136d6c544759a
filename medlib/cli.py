"""``python -m medlib``: every step of the dashboard as a command.

Each command prints its result last, as one JSON line. A user error exits
with status 2 and one ``error: ...`` line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from medlib import commands
from medlib.answers.batch import PART_SIZE
from medlib.datasets.assemble import FITS
from medlib.errors import MedlibError
from medlib.models.heatmaps import METHODS
from medlib.spec import Param
from medlib.training.config import ABOUT_KEYS, CONFIG_PARAMS
from medlib.training.distribute import STRATEGIES


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error:`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _add_setting(parser: argparse.ArgumentParser, param: Param) -> None:
    """A ``--flag`` for a training setting, from its declaration: its type or choices, range, default and help."""
    kind = {"choices": param.choices} if param.kind == "choice" else {"type": {"int": int, "float": float}[param.kind]}
    allowed = "" if param.kind == "choice" else f"; {param.low:g} to {param.high:g}"
    text = f"{param.help}{allowed} (default {param.default})".lstrip("; ").replace("%", "%%")
    parser.add_argument(f"--{param.name.replace('_', '-')}", **kind, help=text)


def _default_model(name: str) -> Path:
    """A model that ships with medlib (wherever it is installed)."""
    from medlib.store.folders import shipped_store

    return shipped_store() / name


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _add_data_source(parser: argparse.ArgumentParser, name: str) -> None:
    """The data set argument ``name`` and the options of how it is read: the phantom's size and count, and the fit
    of images of many sizes (the split's seed is :func:`_seeded`'s)."""
    parser.add_argument(name, help="a folder, a .zip, a .npz, a cache, or the word 'phantom' for the built-in set")
    parser.add_argument("--n", type=_positive, default=300, help="phantom only: number of images (default 300)")
    parser.add_argument("--size", type=_positive, default=128, help="phantom only: image side in pixels (default 128)")
    parser.add_argument("--fit", choices=FITS, default=FITS[0],
                        help="images of many sizes become squares: pad (keep the aspect; default) or stretch")


def _seeded() -> argparse.ArgumentParser:
    """``--seed``, declared once for every command that draws at random (a training run's is its config's)."""
    seeded = argparse.ArgumentParser(add_help=False)
    seeded.add_argument("--seed", type=int, default=0,
                        help="seed of the random draws: the split made where a set has none, the phantom's films "
                             "(default 0)")
    return seeded


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m medlib`` argument parser with all its commands."""
    parser = _Parser(prog="python -m medlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    seeded = [_seeded()]

    info = sub.add_parser("info", parents=seeded, help="summarise a data set (folder, .zip, .npz, cache, or 'phantom')")
    _add_data_source(info, "path")
    info.set_defaults(run=commands.cmd_info)

    inspect = sub.add_parser("inspect", help="describe one image file (DICOM, PNG, TIFF, NIfTI, ...)")
    inspect.add_argument("file", help="the image file")
    inspect.set_defaults(run=commands.cmd_inspect)

    phantom = sub.add_parser("phantom", parents=seeded,
                             help="write the synthetic chest-film set (.npz, .zip or DICOM folder)")
    phantom.add_argument("--n", type=_positive, default=300, help="number of images (default 300)")
    phantom.add_argument("--size", type=_positive, default=128, help="image side in pixels (default 128)")
    phantom.add_argument("--out", required=True, help="file.npz, file.zip (PNG class folders) or a folder (DICOM)")
    phantom.set_defaults(run=commands.cmd_phantom)

    cache = sub.add_parser("cache", help="write a data set as a cache that trains from disk (for sets larger "
                                              "than memory)", parents=seeded)
    _add_data_source(cache, "data")
    cache.add_argument("--out", required=True, help="the cache folder to write; train on it with --data DIR")
    cache.set_defaults(run=commands.cmd_cache)

    train = sub.add_parser("train", help="train a model and save it in the model store")
    train.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    train.add_argument("--out", required=True, help="the model folder to write, e.g. models/my-model")
    train.add_argument("--preprocess", help="a preprocessing spec (JSON) from the Preprocessing page")
    train.add_argument("--augment", help="an augmentation spec (JSON) from the Augmentation page")
    train.add_argument("--config", help="a training config (JSON); options given here override it")
    train.add_argument("--init-from", metavar="DIR", help="a stored model (e.g. models/cxr-lungs) whose weights "
                       "start every layer of the same name and shapes; the card says which")
    train.add_argument("--about", help="facts for the model card (JSON): " + ", ".join(ABOUT_KEYS))
    for param in CONFIG_PARAMS:
        _add_setting(train, param)
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
    train.set_defaults(run=commands.cmd_train)

    evaluate = sub.add_parser("evaluate", help="metrics of a stored model on a data set split", parents=seeded)
    evaluate.add_argument("--model", required=True, help="a model folder, e.g. models/my-model")
    evaluate.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                          help="default: test; all: every image, whatever the layout (an external test set)")
    evaluate.set_defaults(run=commands.cmd_evaluate)

    diagnose = sub.add_parser("diagnose", help="the Diagnose page: one JSON line per image (research use only)")
    diagnose.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER", help="image files, or folders of them")
    diagnose.add_argument("--classifier", default=str(_default_model("cxr-pneumonia")),
                          help="a classifier folder, or 'none' (default: the shipped real-film cxr-pneumonia)")
    diagnose.add_argument("--segmenter", default=str(_default_model("cxr-anatomy")),
                          help="a segmenter folder, or 'none' (default: the shipped cxr-anatomy: right lung, left "
                               "lung and heart, and the cardiothoracic ratio)")
    diagnose.add_argument("--locator", default=str(_default_model("cxr-nodule")),
                          help="a locating model's folder, or 'none' (default: the shipped cxr-nodule: ranked nodule "
                               "candidates, each with its lung and zone)")
    diagnose.add_argument("--volume-model", default="auto",
                          help="a volume model's folder for NIfTI volumes and DICOM series, or 'none' (default: "
                               "auto, the first shipped volume model whose card's modality fits, and says so)")
    diagnose.add_argument("--out", help="a folder for <stem>.png pictures, <stem>-mask.png masks (0/255) of a "
                                        "one-structure segmenter and <stem>-labels.png label maps (0 background, "
                                        "1..K in the card's structure order) of one of several structures; "
                                        "<stem>-labels.nii.gz of a volume (the input's affine), and each answer's "
                                        "<stem>-report.html (self-contained, printable)")
    diagnose.add_argument("--dicom", action="store_true",
                          help="also write each answer as DICOM into --out: <stem>-seg.dcm (the label map, one segment "
                               "per structure), <stem>-sr.dcm (findings and measurements, TID 1500) and, for an image "
                               "without DICOM UIDs to cite (PNG, JPEG), <stem>-image.dcm (it, as a Secondary Capture)")
    diagnose.add_argument("--keep-identifiers", action="store_true",
                          help="with --dicom: keep the source DICOM's patient name, ID, birth date and study "
                               "identifiers in the written objects (default: left empty)")
    diagnose.add_argument("--method", default=METHODS[0], choices=METHODS, help=f"heat map; default: {METHODS[0]}")
    diagnose.set_defaults(run=commands.cmd_diagnose)

    predict = sub.add_parser("predict", help="score every image of a folder, ZIP, CSV manifest or DICOM tree "
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
    predict.set_defaults(run=commands.cmd_predict)

    gate = sub.add_parser("gate", parents=seeded,
                          help="fit a model's out-of-distribution gate on the images it should accept")
    gate.add_argument("--model", required=True, help="a model folder, e.g. models/cxr-lungs")
    gate.add_argument("--data", required=True, nargs="+", help="data sets of in-distribution images (train split "
                                                               "fits, val split sets the threshold)")
    gate.set_defaults(run=commands.cmd_gate)

    explain = sub.add_parser("explain", parents=seeded,
                             help="heat-map overlays of a classifier; localization where masks exist")
    explain.add_argument("--model", required=True, help="a classifier folder, e.g. models/my-model")
    explain.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    explain.add_argument("--split", default="test", choices=["train", "val", "test"], help="default: test")
    explain.add_argument("--out", required=True, help="the folder to write the overlay PNGs to")
    explain.add_argument("--method", default=METHODS[0], choices=METHODS, help=f"default: {METHODS[0]}")
    explain.add_argument("--limit", type=_positive, default=64, help="overlays to write at most (default 64)")
    explain.set_defaults(run=commands.cmd_explain)
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
        commands.print_json(result)
    return 0
