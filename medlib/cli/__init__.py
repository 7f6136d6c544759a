"""``python -m medlib``: every step of the dashboard as a command.

Each command prints its result last, as one JSON line. A user error exits
with status 2 and one ``error: ...`` line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from medlib.cli import answer, data, judge, nodules, pacs, train
from medlib.cli.options import Parser, print_json, seeded
from medlib.errors import MedlibError

COMMANDS = (data, nodules, train, judge, answer, pacs)
"""The modules of the commands, one per job, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m medlib`` argument parser with all its commands."""
    parser = Parser(prog="python -m medlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMANDS:
        module.add_commands(sub, [seeded()])
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
        print_json(result)
    return 0
