"""The command that talks to a PACS: ``pacs search`` (its studies, by patient, modality and date), and the options
``diagnose --pacs`` shares with it."""

from __future__ import annotations

import argparse
from typing import Any

from medlib.errors import PacsError


def add_pacs_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pacs", metavar="URL",
                        help="a DICOMweb service's root URL (default: MEDLIB_PACS_URL, else [pacs] url in "
                             ".streamlit/secrets.toml or .streamlit/medlib.toml); credentials never in the URL: "
                             "MEDLIB_PACS_USERNAME and MEDLIB_PACS_PASSWORD, or MEDLIB_PACS_TOKEN")


def pacs_from(args: argparse.Namespace) -> Any:
    """The PACS that ``--pacs`` (or the settings) names."""
    from medlib.pacs import Pacs, pacs_settings

    settings = pacs_settings(args.pacs)
    if settings is None:
        raise PacsError("no PACS is set: give --pacs URL, or set MEDLIB_PACS_URL")
    return Pacs(settings)


def add_commands(sub: Any, seeded: list[argparse.ArgumentParser]) -> None:
    """Register ``pacs search`` on ``sub``."""
    pacs = sub.add_parser("pacs", help="a hospital's PACS, by DICOMweb: search its studies")
    actions = pacs.add_subparsers(dest="action", required=True)
    search = actions.add_parser("search", help="the studies of a patient, modality or date range (QIDO-RS)")
    add_pacs_options(search)
    search.add_argument("--patient", help="a Patient ID")
    search.add_argument("--modality", help="a modality among the study's (CR, DX, CT, MR...)")
    search.add_argument("--since", metavar="YYYYMMDD", help="studies on or after this date")
    search.add_argument("--until", metavar="YYYYMMDD", help="studies on or before this date")
    search.add_argument("--limit", type=int, default=100, help="at most this many studies (default 100)")
    search.set_defaults(run=cmd_search)


def cmd_search(args: argparse.Namespace) -> dict[str, Any]:
    for name in ("since", "until"):
        value = getattr(args, name)
        if value and not (len(value) == 8 and value.isdigit()):
            raise ValueError(f"--{name} is a date as YYYYMMDD, not {value!r}")
    pacs = pacs_from(args)
    studies = pacs.search(args.patient, args.modality, args.since, args.until, args.limit)
    return {"pacs": pacs.settings.safe_url, "studies": [study.row() for study in studies]}
