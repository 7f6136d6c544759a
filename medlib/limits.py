"""Size limits that protect the app from decompression bombs and huge uploads.

They are checked on headers, before anything is decoded.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Most pixels one frame may have (a 16k x 16k image is 268 M pixels).
MAX_FRAME_PIXELS = 100_000_000
#: Most values (pixels x frames x channels) one file may decode to.
MAX_TOTAL_VALUES = 400_000_000
#: Largest file read into memory, in bytes.
MAX_FILE_BYTES = 1 << 30
#: Most bytes a ZIP (or .npz, or .nii.gz) may expand to.
MAX_ARCHIVE_BYTES = 2 << 30
#: Most entries a ZIP may hold.
MAX_ARCHIVE_ENTRIES = 50_000
#: Largest expansion ratio of one compressed entry before it counts as a bomb.
MAX_COMPRESSION_RATIO = 200
#: Longest side of a data-set image kept in memory; larger ones are shrunk.
MAX_DATASET_SIDE = 1024
#: Side of the squares that images of many sizes are brought to (or their median long side, if smaller).
MIXED_SIZE_SIDE = 512
#: Most bytes a loaded data set's images may take in memory (they keep their stored type: 8-bit is one byte).
MAX_DATASET_BYTES = 2 << 30
#: Synthetic sets the app keeps built at once (each choice of count, size and seed is one; a 3,000-film set of
#: 256 pixels is about 0.8 GB), the least recently used dropped first.
MAX_CACHED_PHANTOMS = 2


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
