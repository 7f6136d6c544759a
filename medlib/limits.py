"""Every limit that protects a server from large or hostile input and from too much work at once, in one place.

Each limit has a default that fits a small shared host (Streamlit Community Cloud: about 2.7 GB of memory,
2 CPUs). An operator raises or lowers one with an environment variable ``MEDLIB_<NAME>`` (for example
``MEDLIB_MAX_FILE_MB=1024``) or in a TOML file (``$MEDLIB_CONFIG``, else ``.streamlit/medlib.toml`` in the
working folder) under ``[limits]``; on Community Cloud, root-level secrets become environment variables.
A refused request names the limit and how to raise it (:func:`raise_hint`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

#: Longest side of a data-set image kept in memory; larger ones are shrunk.
MAX_DATASET_SIDE = 1024
#: Side of the squares that images of many sizes are brought to (or their median long side, if smaller).
MIXED_SIZE_SIDE = 512
MB = 1 << 20


@dataclass(frozen=True)
class Limit:
    """One configurable limit: its default, the unit it is set in, and what it bounds."""

    name: str
    default: int
    unit: str
    help: str
    scale: int = 1  # what one unit is worth in the value code compares against (bytes per MB)

    @property
    def variable(self) -> str:
        return f"MEDLIB_{self.name.upper()}"


LIMITS = {limit.name: limit for limit in (
    Limit("max_frame_pixels", 100_000_000, "pixels", "most pixels one frame may have (checked on its header)"),
    Limit("max_file_values", 150_000_000, "values",
          "most values (pixels × frames × channels) one file may decode to; 150 M float32 values are 600 MB"),
    Limit("max_file_mb", 512, "MB", "largest file read into memory", MB),
    Limit("max_archive_mb", 1024, "MB", "most a ZIP, .npz or .nii.gz may expand to", MB),
    Limit("max_archive_entries", 50_000, "entries", "most entries a ZIP may hold"),
    Limit("max_pacs_mb", 1024, "MB", "most one answer of a PACS may hold (a study or a series retrieved)", MB),
    Limit("max_compression_ratio", 200, "×", "largest expansion of one compressed entry before it counts as a bomb"),
    Limit("max_dataset_mb", 768, "MB", "most a loaded data set's images may take in memory, in their stored type",
          MB),
    Limit("max_cached_phantoms", 2, "sets",
          "synthetic sets the app keeps built (a 3,000-film set of 256 pixels is about 0.8 GB)"),
    Limit("max_training_runs", 0, "runs",
          "training runs at once on this server, the others wait in a queue (0: one per two CPUs, at least one)"),
    Limit("workspace_idle_minutes", 60, "minutes",
          "a browser session's private workspace is removed after this long without use"),
)}


def _config_file() -> Path:
    return Path(os.environ.get("MEDLIB_CONFIG") or Path(".streamlit") / "medlib.toml")


def _configured(limit: Limit) -> int:
    if limit.variable in os.environ:
        raw, where = os.environ[limit.variable], limit.variable
    else:
        path = _config_file()
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("limits", {})
        except OSError:
            return limit.default
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML ({exc}); fix it or remove it") from exc
        if limit.name not in table:
            return limit.default
        raw, where = table[limit.name], f"{path} [limits] {limit.name}"
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a whole number of {limit.unit}, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{where} must not be negative, not {value}")
    return value


def limit(name: str) -> int:
    """The limit ``name`` as configured, in the unit code compares against (bytes for ``*_mb`` limits)."""
    item = LIMITS[name]
    return _configured(item) * item.scale


def raise_hint(name: str) -> str:
    """The end of a refusal: which limit was hit and how an operator raises it."""
    item = LIMITS[name]
    return (f"the server's limit {name} is {_configured(item):,} {item.unit}; an operator can raise it with "
            f"{item.variable} or in .streamlit/medlib.toml")


def available_cpus(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The CPUs this process may use: its affinity, capped by its container's CPU quota (cgroup v2 ``cpu.max``),
    which ``os.cpu_count()`` does not see (a 2-core container on a 64-core host counts 64)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cgroup.read_text().split()[:2]
    except (OSError, ValueError):
        return count
    if quota == "max":
        return count
    return max(1, min(count, int(float(quota) / float(period) + 0.5)))


def max_training_runs() -> int:
    """Training runs at once: as configured, else one per two CPUs the process may use (at least one)."""
    return limit("max_training_runs") or max(1, available_cpus() // 2)
