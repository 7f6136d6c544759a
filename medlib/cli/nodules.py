"""The commands about simulated nodules: ``simulate-nodules`` (write a set of films with nodules from CT blended
in, in the manifest layout) and ``detectability`` (at what size a model finds them)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from medlib.cli.options import default_model, positive, span
from medlib.scoring.detectability import DIAMETERS


def add_commands(sub: Any, seeded: list[argparse.ArgumentParser]) -> None:
    """Register ``simulate-nodules`` on ``sub`` (``seeded``: the parents of a command that draws at random)."""
    simulate = sub.add_parser("simulate-nodules", parents=seeded,
                              help="write films with real CT nodules blended into their lungs (a manifest set with "
                                   "each nodule's centre, radius and size)")
    simulate.add_argument("--films", required=True, help="a data set of chest films; those without a finding "
                                                          "receive the nodules")
    simulate.add_argument("--nodules", required=True,
                          help="nodule patches from CT in NODE21's layout (nodules.csv, .mha patches and masks), "
                               "e.g. ../shared/data/node21_nodules")
    simulate.add_argument("--out", required=True, help="the folder to write the set to")
    simulate.add_argument("--count", type=positive, default=100, help="films to write (default 100)")
    simulate.add_argument("--per-film", type=span, default=(1.0, 3.0), help="nodules on each film (default 1-3)")
    simulate.add_argument("--diameters", type=span, default=None, help="nodule diameters in mm (default 6-30)")
    simulate.add_argument("--contrasts", type=span, default=None,
                          help="what a nodule's peak adds, as a share of the lungs' range of values "
                               "(default 0.04-0.16)")
    simulate.add_argument("--lungs-model", default=str(default_model("cxr-anatomy")),
                          help="the model that outlines the lungs of films whose set does not "
                               "(default models/cxr-anatomy)")
    simulate.set_defaults(run=cmd_simulate_nodules)

    detect = sub.add_parser("detectability", parents=seeded,
                            help="the share of simulated nodules a locating model finds at one false positive per "
                                 "film, by nodule diameter, on a split's normal films")
    detect.add_argument("--model", required=True, help="a locating model's folder, e.g. models/cxr-nodule")
    detect.add_argument("--data", required=True, help="a data set of chest films; its normal films of --split "
                                                     "receive the nodules, one at a time")
    detect.add_argument("--nodules", required=True, help="CT nodules in NODE21's layout")
    detect.add_argument("--split", default="val", choices=("train", "val", "test"),
                        help="whose normal films (default val: never test, which gives final figures only)")
    detect.add_argument("--diameters", type=numbers, default=DIAMETERS, help="diameters in mm (default "
                                                                             "5,10,15,20,30)")
    detect.add_argument("--contrasts", type=numbers, default=(0.1,), help="contrasts (default 0.1)")
    detect.add_argument("--placements", type=positive, default=40, help="nodules per diameter and contrast "
                                                                         "(default 40)")
    detect.add_argument("--lungs-model", default=str(default_model("cxr-anatomy")),
                        help="the model that outlines the lungs of films whose set does not")
    detect.set_defaults(run=cmd_detectability)


def numbers(text: str) -> tuple[float, ...]:
    """Numbers separated by commas (``5,10,15``)."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not numbers separated by commas, such as 5,10,15") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive numbers separated by commas")
    return values


def cmd_simulate_nodules(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.answers.lungs import outlined_lungs
    from medlib.datasets import load_images
    from medlib.datasets.nodule_sets import lung_fields, write_simulated_set
    from medlib.datasets.nodules import CONTRASTS, DIAMETERS_MM, read_nodules

    films = load_images(args.films, "--films", seed=args.seed)
    lungs = lung_fields(films)
    source = "the set's own masks"
    if lungs is None:
        lungs, source = outlined_lungs(films, args.lungs_model), f"outlined by {Path(args.lungs_model).name}"
    made = write_simulated_set(films, lungs, read_nodules(args.nodules), Path(args.out), args.count, args.seed,
                               (int(args.per_film[0]), int(args.per_film[1])), args.diameters or DIAMETERS_MM,
                               args.contrasts or CONTRASTS)
    return made | {"lungs": source}


def cmd_detectability(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.answers.lungs import outlined_lungs
    from medlib.datasets import load_images
    from medlib.datasets.nodule_sets import film_spacing, lung_fields, normal_films
    from medlib.datasets.nodules import read_nodules
    from medlib.models.loaded import open_model
    from medlib.scoring.detectability import detectability

    films = load_images(args.data, "--data", seed=args.seed)
    chosen = sorted(set(normal_films(films)) & set(films.indices(args.split).tolist()))
    if not chosen:
        raise ValueError(f"{films.name} has no normal film in its {args.split} split; choose another --split")
    lungs = lung_fields(films)
    lungs = [lungs[i] for i in chosen] if lungs is not None else outlined_lungs(
        dataclasses.replace(films, images=films.images[chosen]), args.lungs_model)
    spacing, where = film_spacing(films)
    result = detectability(open_model(args.model), [films.images[i] for i in chosen], lungs, read_nodules(args.nodules),
                           spacing, args.diameters, args.contrasts, args.placements, args.seed)
    return {"model": Path(args.model).name, "data": films.name, "split": args.split, "spacing_mm": round(spacing, 4),
            "spacing_from": where, **result}
