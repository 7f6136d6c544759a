"""The memory of the default journey on one server: ``streamlit run app.py`` driven in headless Chromium.

Usage: python benchmarks/app_memory.py [--minutes 1]

Serves the app on a free localhost port (the shipped models shared, read-only) and walks the journey a new
visitor takes: open the app (the default synthetic set is built on the Upload page), train a default run on it
(the Training page's defaults, with a time limit of ``--minutes``), evaluate the new model on the Evaluation
page, and diagnose the real sample film on the Diagnose page (both real-film models, heat map, lung outline).
A sampler reads the memory of the whole process tree (the server and its training child) five times a second
from /proc (Linux): the sum of the processes' proportional set sizes (PSS: a page shared by two processes counts
half in each, so the sum is what the tree really holds) and of their resident sizes (RSS, which counts shared
pages again in every process). It prints the tree's memory after each step and the peak over the journey; the
goal is a peak of at most 2.0 GB. Needs Debian's Chromium and Playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MEDLIB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_memory_mib(pid: int) -> dict[str, float]:
    """The process tree's summed PSS and RSS, in MiB, and how many processes it has."""
    pss = rss = 0
    processes = tree(pid)
    for member in processes:
        try:
            rollup = dict(line.split(":", 1) for line in Path(f"/proc/{member}/smaps_rollup").read_text()
                          .splitlines()[1:])
        except (OSError, ValueError):
            continue
        pss += int(rollup["Pss"].split()[0])
        rss += int(rollup["Rss"].split()[0])
    return {"pss": round(pss / 1024, 1), "rss": round(rss / 1024, 1), "processes": len(processes)}


class Sampler(threading.Thread):
    """Samples the tree's memory until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, {"pss": 0.0, "rss": 0.0, "processes": 0}, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            now = tree_memory_mib(self.pid)
            self.peak = {key: max(self.peak[key], now[key]) for key in now}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` on a free port with the shipped models shared; the process and its URL."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "MEDLIB_MODELS": str(ROOT / "models"), **(env or {})})
    url = f"http://127.0.0.1:{port}"
    for _ in range(360):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("streamlit did not start within 3 minutes")


def start_training(page, minutes: float) -> None:
    """Start a default run with a time limit of ``minutes`` on the Training page (open in ``page``)."""
    page.get_by_role("button", name="Start training").wait_for(timeout=180_000)
    limit = page.get_by_role("spinbutton", name="Time limit (minutes, 0 = none)")
    limit.fill(str(minutes))
    limit.press("Enter")
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Start training").click()


def journey(page, minutes: float, mark) -> None:
    """The default journey in one browser page; ``mark(step)`` after each step."""
    page.get_by_text("Upload your own file above").first.wait_for(timeout=120_000)
    mark("the app opened: the default synthetic set built")
    page.get_by_role("link", name="Training").click()
    start_training(page, minutes)
    page.get_by_text("Saved as").wait_for(timeout=int((minutes * 60 + 600) * 1000))
    mark(f"a default training run ({minutes:g} min) ended, its model saved")
    page.get_by_role("link", name="Evaluation").click()
    page.get_by_text("confusion matrix (counts)").wait_for(timeout=300_000)
    page.get_by_text("Misclassified").first.wait_for(timeout=300_000)
    mark("the new model evaluated (metrics, curves, heat maps of its errors)")
    page.get_by_role("link", name="Diagnose").click()
    page.get_by_text("lung field outlines by cxr-lungs").first.wait_for(timeout=300_000)
    mark("a real film diagnosed by both real-film models")


def main(minutes: float) -> dict:
    from playwright.sync_api import sync_playwright

    server, url = serve()
    sampler = Sampler(server.pid)
    steps: dict[str, dict[str, float]] = {"server started": tree_memory_mib(server.pid)}
    sampler.start()
    started = time.monotonic()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(f"{url}/upload")  # the app opens on its start page; the journey starts with the data
            journey(page, minutes, lambda step: steps.__setitem__(step, tree_memory_mib(server.pid)))
            browser.close()
    finally:
        sampler.done.set()
        server.terminate()
        server.wait(timeout=30)
    for step, memory in steps.items():
        print(f"{step}: {memory['pss']:.0f} MiB (PSS), {memory['rss']:.0f} MiB (RSS), {memory['processes']} "
              "process(es)")
    print(f"peak of the process tree over {time.monotonic() - started:.0f} s: {sampler.peak['pss']:.0f} MiB PSS, "
          f"{sampler.peak['rss']:.0f} MiB RSS (goal: at most 2.0 GB)")
    return {"steps": steps, "peak": sampler.peak}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="the training run's time limit (default 1)")
    print(json.dumps(main(parser.parse_args().minutes)))
