"""The default recipe with nothing set but the data, the task and a time budget, by the CLI, on real and synthetic sets.

Usage: python benchmarks/default_recipe.py [--only drive lesions pneumonia chest lungs] [--out /tmp/default-recipe]

Each set is trained by ``python -m medlib train --data DATA [--task segment] --max-minutes M`` and scored by
``python -m medlib evaluate`` on its test split:

- drive: ../shared/data/DRIVE, vessels, 15 minutes; the 20 official test images inside the field of view.
- lesions: the synthetic films' lesion masks (1,500 films of seed 1, written as .npz), 10 minutes.
- pneumonia: PneumoniaMNIST (official test split), 5 minutes.
- chest: chest_xray_224 (patient-grouped split, seed 0), 10 minutes; scored at the run's own threshold.
- lungs: lung_shenzhen (split seed 0), 10 minutes.

Prints the commands, each run's figures and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

SETS = {
    "drive": (SHARED / "DRIVE", "segment", 15),
    "lesions": (None, "segment", 10),
    "pneumonia": (SHARED / "pneumoniamnist_28.npz", "classify", 5),
    "chest": (SHARED / "chest_xray_224", "classify", 10),
    "lungs": (SHARED / "lung_shenzhen", "segment", 10),
}


def run(*args: str) -> dict:
    command = [sys.executable, "-m", "medlib", *args]
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--out", default="/tmp/default-recipe")
    args = parser.parse_args()
    figures: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only:
            data, task, minutes = SETS[name]
            if data is None:
                data = Path(folder) / "phantom-1500.npz"
                run("phantom", "--n", "1500", "--seed", "1", "--out", str(data))
            if not data.exists():
                print(f"{name}: skipped ({data} is absent)")
                continue
            out = f"{args.out}/{name}"
            trained = run("train", "--data", str(data), "--task", task, "--max-minutes", str(minutes), "--out", out,
                          "--overwrite")  # fmt: skip
            scored = run("evaluate", "--model", out, "--data", str(data), "--split", "test")
            keys = ("dice", "auc") if task == "segment" else ("auc", "accuracy", "sensitivity", "specificity", "ece")
            result = {key: scored[key] for key in keys} | {f"{key}_ci": scored.get(f"{key}_ci") for key in keys}
            result |= {"threshold": scored.get("threshold"), "n": scored["n"], "epochs": trained["epochs"],
                       "train_s": trained["seconds"], "ended": trained["ended"]}  # fmt: skip
            print(f"{name}: {json.dumps(result)}", flush=True)
            figures[name] = result
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
