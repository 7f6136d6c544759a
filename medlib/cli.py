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

from medlib.errors import MedlibError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error:`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _print_json(result: dict[str, Any]) -> None:
    print(json.dumps(result, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import load_dataset

    return load_dataset(args.path, seed=args.seed, n=args.n, size=args.size).summary()


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


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m medlib`` argument parser with all its commands."""
    parser = _Parser(prog="python -m medlib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    info = commands.add_parser("info", help="summarise a data set (folder, .zip, .npz, or 'phantom')")
    info.add_argument("path", help="a folder, a .zip, a .npz, or the word 'phantom' for the built-in set")
    info.add_argument("--seed", type=int, default=0, help="seed of the split made where none is given")
    info.add_argument("--n", type=_positive, default=300, help="phantom only: number of images (default 300)")
    info.add_argument("--size", type=_positive, default=128, help="phantom only: image side in pixels (default 128)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], dict[str, Any]] = args.run
    try:
        result = run(args)
    except (MedlibError, ValueError, OSError) as exc:
        message = str(exc).replace("\n", " ")
        print(f"error: {message}", file=sys.stderr)
        return 2
    _print_json(result)
    return 0
