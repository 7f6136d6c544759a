"""Scoring an archive of films on a Dask cluster: ``python -m medlib predict``.

The files (a folder or DICOM tree, a ZIP, or a CSV manifest) are listed in a
fixed order and cut into parts of ``part_size`` files. Each part is one Dask
task: a worker scores its files with :func:`medlib.answers.diagnose.diagnose_paths` (the
models loaded once per worker process) and writes them as one Parquet file,
atomically. A part whose file exists is done: a run that was stopped starts
again where it stopped, and no file is ever written twice. Dask does the
scheduling (a ``LocalCluster`` by default, or any running scheduler); medlib
only says what one part is.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medlib.errors import DatasetError

#: Files per Parquet part: small enough that a stop loses little, large enough that a part is worth a task.
PART_SIZE = 16
#: What differs between two runs of the same file (how long it took), and is left out of a comparison.
TIMINGS = ("seconds", "model_seconds")


def list_inputs(data: Path, unpack_to: Path) -> list[Path]:
    """The image files of ``data``, sorted: a folder (searched recursively, DICOM trees too), a ``.zip`` (unpacked
    once into ``unpack_to``) or a ``.csv`` manifest (a ``path``, ``image``, ``file`` or ``filename`` column, relative
    to the CSV or absolute)."""
    from medlib.answers.diagnose_files import image_paths
    from medlib.datasets.archive import extract_zip
    from medlib.datasets.manifest import read_manifest
    from medlib.input import read_bytes

    if data.is_dir():
        return image_paths([data])
    suffix = data.suffix.lower()
    if suffix == ".zip":
        if not (unpack_to / ".complete").is_file():
            unpack_to.mkdir(parents=True, exist_ok=True)
            extract_zip(read_bytes(data, cap="max_archive_mb")[0], unpack_to)
            (unpack_to / ".complete").write_text("")
        return image_paths([unpack_to])
    if suffix == ".csv":
        rows, column = read_manifest(data)
        return sorted(data.parent / row[column] for row in rows if row[column])
    if data.is_file():
        return [data]
    raise DatasetError(f"{data} does not exist; give a folder, a .zip, a .csv manifest or an image file")


def parts(files: list[Path], size: int = PART_SIZE) -> list[list[Path]]:
    return [files[start:start + size] for start in range(0, len(files), size)]


@functools.cache
def _models(classifier: str | None, segmenter: str | None) -> tuple[Any, Any]:
    """The models of this worker process, loaded on its first part only."""
    from medlib.models.loaded import open_model

    return (open_model(Path(classifier)) if classifier else None, open_model(Path(segmenter)) if segmenter else None)


def score_part(files: list[str], target: str, classifier: str | None, segmenter: str | None, method: str) -> int:
    """Score ``files`` and write them to ``target`` (Parquet, written whole or not at all); how many were scored. A
    volume model (a 3-D card, given as either model) takes the volumes (NIfTI files, DICOM series) and answers per
    structure."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from medlib.answers.diagnose_files import diagnose_paths

    models = _models(classifier, segmenter)
    volumes = [m for m in models if m is not None and m.card.dimensions == 3]
    flat = [None if m in volumes else m for m in models]  # each in its slot
    rows = list(diagnose_paths([Path(f) for f in files], *flat, method=method, volume_models=volumes))
    table = pa.table({
        "file": [row["file"] for row in rows],
        "predicted": [row.get("predicted") for row in rows],
        "in_distribution": [row.get("in_distribution") for row in rows],
        "error": [row.get("error") for row in rows],
        "result": [json.dumps(row, sort_keys=True, default=str) for row in rows],
    })
    temporary = Path(f"{target}.tmp-{os.getpid()}")
    pq.write_table(table, temporary)
    os.replace(temporary, target)
    return len(rows)


def _part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


def predict_archive(data: Path, out: Path, classifier: Path | None, segmenter: Path | None, method: str,
            scheduler: str | None = None, workers: int = 2, part_size: int = PART_SIZE,
            report: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> dict[str, Any]:
    """Score every file of ``data`` into the Parquet folder ``out``, on the Dask scheduler at ``scheduler`` or on a
    new local cluster of ``workers`` processes; parts already in ``out`` are kept. Returns a summary."""
    from distributed import Client, LocalCluster, as_completed

    from medlib.limits import available_cpus

    if classifier is None and segmenter is None:
        raise ValueError("give a classifier or a segmenter")
    out.mkdir(parents=True, exist_ok=True)
    files = list_inputs(data, out.with_name(out.name + ".inputs"))
    if not files:
        raise DatasetError(f"no image files found in {data}")
    chunks = parts(files, part_size)
    todo = [k for k in range(len(chunks)) if not (out / _part_name(k)).is_file()]
    report(f"{len(files):,} files in {len(chunks):,} parts; {len(chunks) - len(todo):,} parts done before")
    if scheduler:
        client, cluster = Client(scheduler), None
    else:  # each worker one process with its share of the CPUs for TensorFlow
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               env={"MEDLIB_THREADS": str(max(1, available_cpus() // workers))})
        client = Client(cluster)
    report(f"Dask dashboard: {client.dashboard_link}")
    started, done_files = time.monotonic(), 0
    try:
        futures = [client.submit(score_part, [str(f) for f in chunks[k]], str(out / _part_name(k)),
                                 str(classifier) if classifier else None, str(segmenter) if segmenter else None,
                                 method, key=f"medlib-part-{k}-{out.name}", pure=False) for k in todo]
        left = sum(len(chunks[k]) for k in todo)
        for future in as_completed(futures):
            done_files += future.result()
            rate = done_files / max(time.monotonic() - started, 1e-9)
            report(f"{done_files:,}/{left:,} files · {rate:.1f} files/s · ETA {(left - done_files) / rate:.0f} s")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    seconds = time.monotonic() - started
    return {"files": len(files), "scored_now": done_files, "parts": len(chunks), "out": str(out),
            "seconds": round(seconds, 1), "files_per_second": round(done_files / seconds, 2) if seconds else None}


def read_results(out: Path) -> list[dict[str, Any]]:
    """The rows of a finished run, in file order (each the ``diagnose`` output of one file, or its error)."""
    import pyarrow.parquet as pq

    return [json.loads(text) for part in sorted(out.glob("part-*.parquet"))
            for text in pq.read_table(part, columns=["result"]).column("result").to_pylist()]
