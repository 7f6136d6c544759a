"""The commands that judge a stored model: ``evaluate`` (its figures on a split), ``gate`` (its out-of-distribution
gate fitted again), ``ranges`` (where its structures lay on its training films), ``recalibrate`` (its probability
and threshold fitted to a site) and ``explain`` (its heat maps on a split)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from medlib.cli.options import positive
from medlib.models.heatmaps import METHODS


def add_commands(sub: Any, seeded: list[argparse.ArgumentParser]) -> None:
    """Register ``evaluate``, ``gate``, ``ranges``, ``recalibrate`` and ``explain`` on ``sub``
    (``seeded``: the parents of a command that draws at random)."""
    evaluate = sub.add_parser("evaluate", help="metrics of a stored model on a data set split", parents=seeded)
    evaluate.add_argument("--model", required=True, help="a model folder, e.g. models/my-model")
    evaluate.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                          help="default: test; all: every image, whatever the layout (an external test set)")
    evaluate.set_defaults(run=cmd_evaluate)

    gate = sub.add_parser("gate", parents=seeded,
                          help="fit a model's out-of-distribution gate on the images it should accept")
    gate.add_argument("--model", required=True, help="a model folder, e.g. models/cxr-lungs")
    gate.add_argument("--data", required=True, nargs="+", help="data sets of in-distribution images (train split "
                                                               "fits, val split sets the threshold)")
    gate.set_defaults(run=cmd_gate)

    ranges = sub.add_parser("ranges", parents=seeded, help="record on a segmenter's card each structure's area and "
                            "place on its training films, to judge its outlines on new films")
    ranges.add_argument("--model", required=True, help="a segmenter of several structures, e.g. models/cxr-anatomy")
    ranges.add_argument("--data", required=True, help="the data set it learned from (its train split is read)")
    ranges.set_defaults(run=cmd_ranges)

    recalibrate = sub.add_parser("recalibrate", parents=seeded, help="refit a classifier's calibration and "
                                 "threshold on a site's labelled films, its weights kept")
    recalibrate.add_argument("--model", required=True, help="a two-class classifier, e.g. models/cxr-pneumonia")
    recalibrate.add_argument("--data", required=True, help="the site's labelled films (every image is used: half "
                                                           "fits, half checks)")
    recalibrate.add_argument("--out", required=True, help="the new model folder, e.g. models/cxr-pneumonia-site")
    recalibrate.add_argument("--overwrite", action="store_true", help="replace a model already at --out")
    recalibrate.set_defaults(run=cmd_recalibrate)

    explain = sub.add_parser("explain", parents=seeded,
                             help="heat-map overlays of a classifier; localization where masks exist")
    explain.add_argument("--model", required=True, help="a classifier folder, e.g. models/my-model")
    explain.add_argument("--data", required=True, help="a data set (folder, .zip, .npz) or 'phantom'")
    explain.add_argument("--split", default="test", choices=["train", "val", "test"], help="default: test")
    explain.add_argument("--out", required=True, help="the folder to write the overlay PNGs to")
    explain.add_argument("--method", default=METHODS[0], choices=METHODS, help=f"default: {METHODS[0]}")
    explain.add_argument("--limit", type=positive, default=64, help="overlays to write at most (default 64)")
    explain.set_defaults(run=cmd_explain)


def cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import VolumeSet, load_dataset, planar
    from medlib.models.loaded import open_model
    from medlib.scoring.evaluate import evaluate_split, evaluate_volumes

    loaded = open_model(args.model)
    dataset = load_dataset(args.data, seed=args.seed, fit=loaded.fit)
    if isinstance(dataset, VolumeSet) or loaded.card.dimensions == 3:
        return evaluate_volumes(loaded, dataset, args.split, seed=args.seed)
    return evaluate_split(loaded, planar(dataset, "evaluation"), args.split, seed=args.seed)


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


def cmd_ranges(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import FITS, load_images
    from medlib.errors import DatasetError
    from medlib.scoring.plausibility import structure_ranges
    from medlib.store.folders import get_model, update_card

    stored = get_model(Path(args.model).name, Path(args.model).parent)
    structures = stored.card.structures
    fit = stored.card.dataset.get("fit") if stored.card.dataset.get("fit") in FITS else FITS[0]
    dataset = load_images(args.data, "the structures' ranges", seed=args.seed, fit=fit)
    if len(structures) < 2 or dataset.masks is None or list(dataset.structures) != list(structures):
        raise DatasetError(f"{args.data} does not label the structures {stored.name} outlines "
                           f"({', '.join(structures) or 'none'}); give the data set it learned from")
    ranges = structure_ranges(dataset.masks[dataset.indices("train")], structures)
    update_card(stored, structure_ranges=ranges)
    return {"model": str(stored.path), "images": int(dataset.indices("train").size), "structure_ranges": ranges}


def cmd_recalibrate(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_images
    from medlib.models.loaded import open_model
    from medlib.scoring.calibration import calibration_line
    from medlib.training.recalibrate import recalibrate

    loaded = open_model(args.model)
    dataset = load_images(args.data, "the site's films", seed=args.seed, fit=loaded.fit)
    done = recalibrate(loaded, dataset, Path(args.out), seed=args.seed, overwrite=args.overwrite)
    return {"model": str(done.stored.path), "calibration": calibration_line(done.stored.card.calibration),
            "site": done.site}


def cmd_explain(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_images
    from medlib.models.explanations import write_explanations
    from medlib.models.loaded import open_model

    loaded = open_model(args.model)
    dataset = load_images(args.data, "explanation", seed=args.seed, fit=loaded.fit)
    return write_explanations(loaded, dataset, args.split, Path(args.out), method=args.method, limit=args.limit)
