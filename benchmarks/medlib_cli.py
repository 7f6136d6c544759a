"""The benchmarks' way to run a ``python -m medlib`` command: echo it, stop on failure, return its last JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, show: bool = False) -> dict:
    """Run ``python -m medlib ARGS`` in the repository; its last output line as JSON (printed too with ``show``)."""
    command = [sys.executable, "-m", "medlib", *args]
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed: {done.stderr.strip().splitlines()[-1]}")
    last = done.stdout.strip().splitlines()[-1]
    if show:
        print(last, flush=True)
    return json.loads(last)
