"""How soon each page of the app shows its heading in a fresh browser (a new context: no cache, no session).

Usage: python benchmarks/page_open.py [--rounds 3]

Serves ``streamlit run app.py`` on a free localhost port (the shipped models, read-only), opens the server once to
warm it (the first visitor builds the synthetic set), then for each page and round opens a new browser context at
the page's address and times the moment its heading (``h1``) is drawn. Prints each page's times and their median;
the goal is at most 2.5 s for every page on 2 cores. Needs Debian's Chromium and Playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_memory import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402

PAGES = {"": "MedLab dashboard", "upload": "Upload", "preprocess": "Preprocessing", "augment": "Augmentation",
         "train": "Training", "evaluate": "Evaluation", "diagnose": "Diagnose", "nodule_studio": "Nodule studio"}
"""Each page's address (after the server's) and its heading."""


def main(rounds: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    server, url = serve()
    times: dict[str, list[float]] = {path or "(start)": [] for path in PAGES}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            warm = browser.new_page()
            warm.goto(f"{url}/upload")
            warm.get_by_role("heading", name="Upload").wait_for(timeout=180_000)
            warm.wait_for_timeout(20_000)  # the first visitor's synthetic set and models
            warm.close()
            for _ in range(rounds):
                for path, heading in PAGES.items():
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(f"{url}/{path}")
                    page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=60_000)
                    times[path or "(start)"].append(round(time.perf_counter() - started, 2))
                    page.wait_for_timeout(3000)  # let the page finish before the next visitor
                    context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    for page, seconds in times.items():
        print(f"{page}: {', '.join(f'{s:.2f}' for s in seconds)} s (median {statistics.median(seconds):.2f} s)")
    return times


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each page is opened (default 3)")
    print(json.dumps(main(parser.parse_args().rounds)))
