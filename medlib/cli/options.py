"""What every command shares: the parser whose errors are one line, the options declared once (``--seed``, a data
set's source and how it is read, a training setting from its declaration), the shipped models' folders, and the
one JSON line a command prints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, NoReturn

from medlib.datasets.assemble import FITS
from medlib.spec import Param


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error:`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def add_setting(parser: argparse.ArgumentParser, param: Param) -> None:
    """A ``--flag`` for a training setting, from its declaration: its type or choices, range, default and help."""
    kind = {"choices": param.choices} if param.kind == "choice" else {"type": {"int": int, "float": float}[param.kind]}
    allowed = "" if param.kind == "choice" else f"; {param.low:g} to {param.high:g}"
    text = f"{param.help}{allowed} (default {param.default})".lstrip("; ").replace("%", "%%")
    parser.add_argument(f"--{param.name.replace('_', '-')}", **kind, help=text)


def default_model(name: str) -> Path:
    """A model that ships with medlib (wherever it is installed)."""
    from medlib.store.folders import shipped_store

    return shipped_store() / name


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def span(text: str) -> tuple[float, float]:
    """A range given as ``LOW-HIGH`` (or one number: both ends), for argparse.

    >>> span("6-30"), span("0.1")
    ((6.0, 30.0), (0.1, 0.1))
    """
    parts = text.split("-") if "-" in text.lstrip("-") else [text]
    try:
        low, high = float(parts[0]), float(parts[-1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range LOW-HIGH such as 6-30") from None
    if len(parts) > 2 or low > high or low < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range LOW-HIGH of numbers from 0, LOW at most HIGH")
    return low, high


def add_data_source(parser: argparse.ArgumentParser, name: str) -> None:
    """The data set argument ``name`` and the options of how it is read: the phantom's size and count, and the fit
    of images of many sizes (the split's seed is :func:`seeded`'s)."""
    parser.add_argument(name, help="a folder, a .zip, a .npz, a cache, or the word 'phantom' for the built-in set")
    parser.add_argument("--n", type=positive, default=300, help="phantom only: number of images (default 300)")
    parser.add_argument("--size", type=positive, default=128, help="phantom only: image side in pixels (default 128)")
    parser.add_argument("--fit", choices=FITS, default=FITS[0],
                        help="images of many sizes become squares: pad (keep the aspect; default) or stretch")


def seeded() -> argparse.ArgumentParser:
    """``--seed``, declared once for every command that draws at random (a training run's is its config's)."""
    seeded = argparse.ArgumentParser(add_help=False)
    seeded.add_argument("--seed", type=int, default=0,
                        help="seed of the random draws: the split made where a set has none, the phantom's films "
                             "(default 0)")
    return seeded


def print_json(result: dict[str, Any]) -> None:
    print(json.dumps(result, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
