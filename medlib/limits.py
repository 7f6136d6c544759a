"""Size limits that protect the app from decompression bombs and huge uploads.

They are checked on headers, before anything is decoded.
"""

from __future__ import annotations

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
