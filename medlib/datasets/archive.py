"""Safe ZIP extraction: no path escapes, capped size and entry count, no nested archives."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

from medlib.errors import DatasetError, UnsafeArchiveError
from medlib.limits import limit, raise_hint

_SKIPPED_PARTS = ("__MACOSX",)


def _safe_member_path(name: str) -> PurePosixPath:
    """The relative path of an entry, refusing absolute paths and ``..`` (zip slip)."""
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":") or ".." in path.parts:
        raise UnsafeArchiveError(
            f"the ZIP entry {name!r} points outside the archive folder; such archives are refused "
            "(re-create the ZIP from the data folder itself)"
        )
    return path


def extract_zip(
    data: bytes,
    target: Path,
    max_bytes: int | None = None,
    max_entries: int | None = None,
) -> list[str]:
    """Extract a ZIP given as bytes into ``target``; return the entries skipped, with why.

    Every entry is checked before anything is written: a path that escapes
    ``target``, more than ``max_entries`` entries, a total declared size over
    ``max_bytes`` or an entry that expands suspiciously much raises
    :class:`UnsafeArchiveError`. While writing, the real bytes are counted too,
    so a ZIP that lies in its directory cannot expand further than allowed.
    The caps default to the server's limits (:mod:`medlib.limits`).
    """
    max_bytes = limit("max_archive_mb") if max_bytes is None else max_bytes
    max_entries = limit("max_archive_entries") if max_entries is None else max_entries
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"the file is not a valid ZIP archive ({exc}); create it again") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise UnsafeArchiveError(
                f"the ZIP holds {len(infos):,} entries, more than {max_entries:,}: split the data set "
                f"({raise_hint('max_archive_entries')})"
            )
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            raise UnsafeArchiveError(
                f"the ZIP expands to {declared:,} bytes, more than {max_bytes:,}: upload a smaller data set "
                f"({raise_hint('max_archive_mb')})"
            )
        skipped: list[str] = []
        plan: list[tuple[zipfile.ZipInfo, Path]] = []
        root = target.resolve()
        max_ratio = limit("max_compression_ratio")
        for info in infos:
            relative = _safe_member_path(info.filename)
            if info.is_dir() or not relative.parts:
                continue
            if any(part in _SKIPPED_PARTS or part.startswith("._") for part in relative.parts):
                continue
            if relative.suffix.lower() == ".zip":
                skipped.append(f"{info.filename} (nested ZIP archives are not opened)")
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > (1 << 20) and ratio > max_ratio:
                raise UnsafeArchiveError(
                    f"the ZIP entry {info.filename!r} expands {ratio:,.0f}-fold: "
                    "this looks like a ZIP bomb and is refused"
                )
            destination = (root / relative).resolve()
            if root not in destination.parents:
                raise UnsafeArchiveError(f"the ZIP entry {info.filename!r} points outside the archive folder")
            plan.append((info, destination))
        written = 0
        for info, destination in plan:
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as source, open(destination, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:
                            raise UnsafeArchiveError(
                                f"the ZIP expands beyond {max_bytes:,} bytes while extracting; it is refused"
                            )
                        sink.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
                message = f"the ZIP entry {info.filename!r} is damaged ({exc}); create the ZIP again"
                raise DatasetError(message) from exc
    return skipped
