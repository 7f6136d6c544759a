"""The commands about simulated nodules: ``simulate-nodules`` (write a set of films with nodules from CT blended
in, in the manifest layout)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from medlib.cli.options import default_model, positive, span


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


def cmd_simulate_nodules(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.answers.anatomy import outlined_lungs
    from medlib.datasets import load_images
    from medlib.datasets.nodules import CONTRASTS, DIAMETERS_MM, lung_fields, read_nodules, write_simulated_set

    films = load_images(args.films, "--films", seed=args.seed)
    lungs = lung_fields(films)
    source = "the set's own masks"
    if lungs is None:
        lungs, source = outlined_lungs(films, args.lungs_model), f"outlined by {Path(args.lungs_model).name}"
    made = write_simulated_set(films, lungs, read_nodules(args.nodules), Path(args.out), args.count, args.seed,
                               (int(args.per_film[0]), int(args.per_film[1])), args.diameters or DIAMETERS_MM,
                               args.contrasts or CONTRASTS)
    return made | {"lungs": source}
