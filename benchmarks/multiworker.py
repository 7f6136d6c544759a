"""Two worker processes under MultiWorkerMirroredStrategy against one process: the same validation AUC?

Usage: python benchmarks/multiworker.py [--epochs 6] [--seed 0]

Trains the default classifier on PneumoniaMNIST (``../shared/data/pneumoniamnist_28.npz``, its official
splits; without it, a 3,000-film phantom) for ``--epochs`` epochs, once as one process (``--strategy one``, both
cores) and once as two worker processes on this machine (``--strategy multiworker``, ``TF_CONFIG`` on two
localhost ports, one core each, each reading half of the training images; the same global batch, so the same
steps). Prints each run's validation AUC with its 95% bootstrap interval (from the chief's card), their
difference (goal: within 0.01), and the wall time of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pneumoniamnist_28.npz"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def run(workers: int, data: str, out: Path, epochs: int, seed: int) -> tuple[dict, float]:
    """Train with ``workers`` processes (1: ``--strategy one``); the chief's result line and the wall time."""
    command = [sys.executable, "-m", "medlib", "train", "--data", data, "--out", str(out), "--epochs", str(epochs),
               "--seed", str(seed), "--early-stopping", "0"]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    if workers == 1:
        done = subprocess.run([*command, "--strategy", "one"], cwd=ROOT, env=env, capture_output=True, text=True,
                              check=True)
        return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - started
    ports: set[int] = set()
    while len(ports) < workers:  # distinct: a port freed by one probe may be handed out again by the next
        ports.add(_port())
    hosts = [f"localhost:{port}" for port in sorted(ports)]
    processes = []
    for index in range(workers):
        config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        processes.append(subprocess.Popen([*command, "--strategy", "multiworker"], cwd=ROOT, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          env=env | {"TF_CONFIG": json.dumps(config),
                                                     "MEDLIB_THREADS": str(max(1, (os.cpu_count() or 2) // workers))}))
    outputs = [p.communicate()[0] for p in processes]
    if any(p.returncode for p in processes):
        raise SystemExit(f"a worker failed: {[p.returncode for p in processes]}\n{outputs[0][-2000:]}")
    return json.loads(outputs[0].strip().splitlines()[-1]), time.perf_counter() - started


def main(epochs: int, seed: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="medlib-multiworker-"))
    try:
        if DATA.is_file():
            data, name = str(DATA), "PneumoniaMNIST (official splits)"
        else:
            subprocess.run([sys.executable, "-m", "medlib", "cache", "phantom", "--n", "3000", "--size", "64",
                            "--out", str(work / "phantom")], cwd=ROOT, check=True, capture_output=True)
            data, name = str(work / "phantom"), "phantom, 3,000 films of 64 px"
        figures: dict = {"data": name, "epochs": epochs, "seed": seed}
        for workers in (1, 2):
            result, seconds = run(workers, data, work / f"model-{workers}", epochs, seed)
            figures[f"{workers}_process" + ("es" if workers > 1 else "")] = {
                "val_auc": result["val_auc"], "val_auc_ci": result["val_auc_ci"],
                "val_accuracy": result["val_accuracy"], "seconds": round(seconds, 1)}
            print(f"{workers} process(es): val AUC {result['val_auc']:.4f} {result['val_auc_ci']}, accuracy "
                  f"{result['val_accuracy']:.4f}, {seconds:.0f} s", flush=True)
        difference = figures["2_processes"]["val_auc"] - figures["1_process"]["val_auc"]
        figures["auc_difference"] = round(difference, 4)
        print(f"{name}, {epochs} epochs, seed {seed}: two workers − one process = {difference:+.4f} val AUC "
              f"(goal within ±0.01)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(main(args.epochs, args.seed)))
