"""The commands about data: ``info`` (a data set), ``inspect`` (one image file), ``phantom`` (write the synthetic
set) and ``cache`` (write a set as shards that train from disk)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from medlib.cli.options import add_data_source, positive


def add_commands(sub: Any, seeded: list[argparse.ArgumentParser]) -> None:
    """Register ``info``, ``inspect``, ``phantom`` and ``cache`` on ``sub``
    (``seeded``: the parents of a command that draws at random)."""
    info = sub.add_parser("info", parents=seeded, help="summarise a data set (folder, .zip, .npz, cache, or 'phantom')")
    add_data_source(info, "path")
    info.add_argument("--also", nargs="+", metavar="DATA", help="further data sets joined to it, as training joins "
                      "them (PATH or PATH:STRUCTURE); the notes say which set labels what")
    info.set_defaults(run=cmd_info)

    inspect = sub.add_parser("inspect", help="describe one image file (DICOM, PNG, TIFF, NIfTI, ...)")
    inspect.add_argument("file", help="the image file")
    inspect.set_defaults(run=cmd_inspect)

    phantom = sub.add_parser("phantom", parents=seeded,
                             help="write the synthetic chest-film set (.npz, .zip or DICOM folder)")
    phantom.add_argument("--n", type=positive, default=300, help="number of images (default 300)")
    phantom.add_argument("--size", type=positive, default=128, help="image side in pixels (default 128)")
    phantom.add_argument("--out", required=True, help="file.npz, file.zip (PNG class folders) or a folder (DICOM)")
    phantom.set_defaults(run=cmd_phantom)

    cache = sub.add_parser("cache", help="write a data set as a cache that trains from disk (for sets larger "
                                              "than memory)", parents=seeded)
    add_data_source(cache, "data")
    cache.add_argument("--out", required=True, help="the cache folder to write; train on it with --data DIR")
    cache.set_defaults(run=cmd_cache)


def cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets import Dataset, load_dataset
    from medlib.tasks import tasks_for
    from medlib.training.fingerprint import data_fingerprint

    if args.also:
        from medlib.datasets.combine import load_joined

        dataset = load_joined(args.path, args.also, seed=args.seed, fit=args.fit)
    else:
        dataset = load_dataset(args.path, seed=args.seed, n=args.n, size=args.size, fit=args.fit)
    tasks = {"tasks": [task.name for task in tasks_for(dataset)]} if isinstance(dataset, Dataset) else {}
    return dataset.summary() | tasks | {"data_fingerprint": data_fingerprint(dataset)}


def cmd_inspect(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.input import read_image

    return read_image(args.file).summary()


def cmd_phantom(args: argparse.Namespace) -> dict[str, Any]:
    from medlib.datasets.phantom import make_phantom
    from medlib.datasets.phantom_export import write_phantom

    dataset = make_phantom(n=args.n, size=args.size, seed=args.seed)
    out = write_phantom(dataset, Path(args.out))
    return {
        "out": str(out),
        "images": len(dataset),
        "size": args.size,
        "synthetic": True,
        **dataset.summary()["splits"],
    }


def cmd_cache(args: argparse.Namespace) -> dict[str, Any]:
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
