"""The commands that answer about images: ``diagnose`` (one JSON line per image, the Diagnose page's answer) and
``predict`` (an archive scored on a Dask cluster into Parquet)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from medlib.answers.batch import PART_SIZE
from medlib.cli.options import default_model, positive, print_json
from medlib.cli.pacs import add_pacs_options, pacs_from
from medlib.gate.population import AGE_MODEL
from medlib.models.heatmaps import METHODS


def add_commands(sub: Any, seeded: list[argparse.ArgumentParser]) -> None:
    """Register ``diagnose`` and ``predict`` on ``sub``
    (``seeded``: the parents of a command that draws at random)."""
    diagnose = sub.add_parser("diagnose", help="the Diagnose page: one JSON line per image (research use only)")
    diagnose.add_argument("files", nargs="*", metavar="FILE_OR_FOLDER",
                          help="image files, or folders of them (or --pacs with --study)")
    add_model_options(diagnose)
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
    add_pacs_options(diagnose)
    diagnose.add_argument("--study", help="with --pacs: the Study Instance UID to retrieve and answer")
    diagnose.add_argument("--series", help="with --study: only this Series Instance UID")
    diagnose.add_argument("--send", action="store_true",
                          help="with --study: send the DICOM answers back to the PACS, with the patient's identifiers "
                               "and study kept, so that it files them beside the source")
    diagnose.set_defaults(run=cmd_diagnose)

    listen = sub.add_parser("listen", help="a DICOM listener: answer each film or series received by C-STORE and "
                                           "send its SEG and SR on (research use only)")
    listen.add_argument("--ae-title", default="MEDLIB", help="this listener's AE title (default MEDLIB)")
    listen.add_argument("--port", type=int, default=11112, help="the port to listen on (default 11112)")
    listen.add_argument("--forward", metavar="AE@HOST:PORT",
                        help="the node that receives the answers (SEG and SR) by C-STORE; without it they are only "
                             "kept in --out")
    listen.add_argument("--out", default="medlib-received",
                        help="a folder for what is received and answered (default ./medlib-received)")
    add_model_options(listen)
    listen.set_defaults(run=cmd_listen)

    predict = sub.add_parser("predict", help="score every image of a folder, ZIP, CSV manifest or DICOM tree "
                                                 "on a Dask cluster into Parquet (resumable)")
    predict.add_argument("--model", required=True, help="a classifier folder, e.g. models/cxr-pneumonia")
    predict.add_argument("--segmenter", default="none", help="a segmenter folder too (default: none)")
    predict.add_argument("--data", required=True, help="a folder or DICOM tree, a .zip, or a .csv with a path column")
    predict.add_argument("--out", required=True, help="the Parquet folder to write (FILE.parquet); a run that was "
                                                      "stopped goes on where it stopped")
    predict.add_argument("--scheduler", help="a running Dask scheduler's address (default: a local cluster)")
    predict.add_argument("--workers", type=positive, default=2, help="local cluster only: worker processes "
                                                                      "(default 2)")
    predict.add_argument("--part-size", type=positive, default=PART_SIZE,
                         help=f"files per Parquet part (default {PART_SIZE})")
    predict.add_argument("--method", default=METHODS[0], choices=METHODS, help=f"heat map; default: {METHODS[0]}")
    predict.set_defaults(run=cmd_predict)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The models that answer (``diagnose`` and ``listen``), the shipped ones by default."""
    parser.add_argument("--classifier", default=str(default_model("cxr-pneumonia")),
                        help="a classifier folder, or 'none' (default: the shipped real-film cxr-pneumonia)")
    parser.add_argument("--segmenter", default=str(default_model("cxr-anatomy")),
                        help="a segmenter folder, or 'none' (default: the shipped cxr-anatomy: right lung, left "
                             "lung and heart, and the cardiothoracic ratio)")
    parser.add_argument("--locator", default=str(default_model("cxr-nodule")),
                        help="a locating model's folder, or 'none' (default: the shipped cxr-nodule: ranked nodule "
                             "candidates, each with its lung and zone)")
    parser.add_argument("--volume-model", default="auto",
                        help="a volume model's folder for NIfTI volumes and DICOM series, or 'none' (default: "
                             "auto, the first shipped volume model whose card's modality fits, and says so)")
    parser.add_argument("--method", default=METHODS[0], choices=METHODS, help=f"heat map; default: {METHODS[0]}")


def answering(args: argparse.Namespace) -> Any:
    """A function that answers image paths into a folder with the models ``args`` name, loaded once, yielding each
    image's line (:func:`medlib.answers.diagnose_files.diagnose_paths`)."""
    from medlib.answers.diagnose_files import diagnose_paths

    classifier, segmenter = optional_model(args.classifier), optional_model(args.segmenter)
    locator = optional_model(args.locator)
    if classifier is None and segmenter is None and locator is None:
        raise ValueError("give a classifier, a segmenter or a locator (all are 'none')")
    volume_models = shipped_volume_models() if args.volume_model == "auto" else \
        [m for m in (optional_model(args.volume_model),) if m is not None]
    ager = default_model(AGE_MODEL)
    age_model = optional_model(str(ager)) if (ager / "card.json").is_file() and any(
        m.card.ages for m in (classifier, segmenter, locator) if m is not None) else None
    return lambda paths, out, answers: diagnose_paths(paths, classifier, segmenter, out, args.method, locator,
                                                      volume_models, answers, age_model)


def optional_model(path: str) -> Any:
    from medlib.models.loaded import open_model

    return None if path.lower() == "none" else open_model(path)


def shipped_volume_models() -> list[Any]:
    """The volume models that ship with medlib (3-D cards), loaded."""
    from medlib.models.loaded import open_model
    from medlib.store.folders import list_models, shipped_store

    return [open_model(m.path) for m in list_models(shipped_store()) if m.card.dimensions == 3]


def cmd_diagnose(args: argparse.Namespace) -> None:
    if bool(args.files) == bool(args.study):
        raise ValueError("give image files, or --pacs URL with --study UID (not both)")
    if (args.series or args.send) and not args.study:
        raise ValueError("--series and --send go with --pacs URL --study UID")
    if args.study:
        with tempfile.TemporaryDirectory(prefix="medlib-pacs-") as scratch:
            _diagnose_study(args, Path(scratch))
        return
    from medlib.answers.diagnose_files import Answers, image_paths

    paths = image_paths(args.files)
    if not paths:
        raise ValueError(f"no image files found in {', '.join(args.files)}")
    out = Path(args.out) if args.out else None
    if (args.dicom or args.keep_identifiers) and out is None:
        raise ValueError("--dicom and --keep-identifiers write into a folder: give --out DIR")
    _answer(args, paths, out, Answers(args.dicom, args.keep_identifiers))


def _answer(args: argparse.Namespace, paths: list[Path], out: Path | None, answers: Any) -> list[dict[str, Any]]:
    """Each image's line, printed as it is answered; the lines."""
    lines = []
    for result in answering(args)(paths, out, answers):
        print_json(result)
        sys.stdout.flush()
        lines.append(result)
    return lines


def _diagnose_study(args: argparse.Namespace, scratch: Path) -> None:
    """A study (or one series) from the PACS, answered image by image; with ``--send``, its DICOM answers sent back
    with the patient's identifiers and study kept (a last line says what the PACS kept)."""
    from medlib.answers.diagnose_files import Answers
    from medlib.pacs.exchange import fetch, send_answers

    pacs = pacs_from(args)
    (scratch / "study").mkdir()
    paths = fetch(pacs, args.study, scratch / "study", args.series)
    out = Path(args.out) if args.out else scratch / "answers"
    lines = _answer(args, paths, out, Answers(args.dicom or args.send, args.keep_identifiers or args.send))
    if args.send:
        print_json({"pacs": pacs.settings.safe_url, "study": args.study, **send_answers(pacs, lines)})


def cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.answers.batch import predict_archive

    segmenter = None if args.segmenter == "none" else Path(args.segmenter)
    return predict_archive(Path(args.data), Path(args.out), Path(args.model), segmenter, args.method, args.scheduler,
                           args.workers, args.part_size)


def cmd_listen(args: argparse.Namespace) -> None:
    """Listen until interrupted, one JSON line per association and per answer."""
    from medlib.answers.diagnose_files import Answers
    from medlib.pacs.listener import Destination, Listener

    forward = Destination.parse(args.forward) if args.forward else None
    if not 0 < args.port < 65536 or not 0 < len(args.ae_title) <= 16:
        raise ValueError("--port is 1-65535 and --ae-title 1 to 16 characters")
    answer = answering(args)

    def log(line: dict[str, Any]) -> None:
        print_json(line)
        sys.stdout.flush()

    listener = Listener(args.ae_title, args.port, lambda paths, out: list(answer(paths, out, Answers(True, True))),
                        Path(args.out), forward, log)
    try:
        listener.start(block=True)
    except KeyboardInterrupt:
        listener.stop()
