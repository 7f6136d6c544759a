"""Many visitors at once on one server: eight browser sessions diagnose a full-size film each while a ninth trains.

Usage: python benchmarks/app_load.py [--sessions 8] [--train-minutes 10] [--browser-nice 0]

Serves ``streamlit run app.py`` on a free localhost port (the shipped models shared, read-only) and opens one
headless Chromium with a separate context (its own cookies and session) per visitor. The ninth visitor starts a
default training run on the Training page (time limit ``--train-minutes``); once it trains, each of the eight
opens the Diagnose page and uploads its own film, all within a second: eight different real chest films (from
``../shared/data/chest_xray_224`` where present, else the committed samples, flipped) enlarged to 4000×5000
pixels, as a full-size film is. Each page notes in the browser when its result appears. The benchmark prints
each session's time from upload to result, their median and 95th percentile (nearest rank), whether each page
showed the probability that ``medlib.answers.diagnose`` gives its own film (and no other session's film name), and the
peak memory of the server's process tree (PSS, as ``app_memory.py``). Goals: p95 at most 5 s on 2 cores, the
tree under 2.5 GB. Needs Debian's Chromium and Playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app_memory import CHROMIUM, CHROMIUM_ARGS, ROOT, Sampler, serve, start_training, tree  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "chest_xray_224"
FULL_SIZE = (4000, 5000)  # width, height
# Marks, in the page, the moment its result (the caption under the picture) is first drawn: looked for at each
# change of the page, in its text (textContent, which needs no layout, unlike innerText polled every 25 ms, which
# cost each tab about 0.2 s of CPU a second while it waited).
WATCH = """() => { window.__done = null; const seen = () => /· frame 1\\/1 ·/.test(document.body.textContent);
  const watcher = new MutationObserver(() => { if (window.__done === null && seen()) { window.__done = Date.now();
    watcher.disconnect(); } });
  watcher.observe(document.body, {childList: true, subtree: true, characterData: true}); }"""


def films(count: int, folder: Path) -> list[Path]:
    """``count`` different chest films, each enlarged to full size and written as JPEG into ``folder``."""
    if (SHARED / "manifest.csv").is_file():
        rows = [line.split(",")[0] for line in (SHARED / "manifest.csv").read_text().splitlines()[1:]]
        sources = [cv2.imread(str(SHARED / row), cv2.IMREAD_GRAYSCALE) for row in rows[:: len(rows) // count][:count]]
    else:
        samples = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((ROOT / "samples").glob("*.jpeg"))]
        sources = [cv2.flip(s, 1) if k // len(samples) % 2 else s for k, s in
                   enumerate(samples * count)][:count]
    paths = []
    for k, film in enumerate(sources):
        path = folder / f"visitor-{k + 1}.jpeg"
        cv2.imwrite(str(path), cv2.resize(film, FULL_SIZE, interpolation=cv2.INTER_CUBIC))
        paths.append(path)
    return paths


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def lower_priority(pids: list[int], niceness: int) -> None:
    """Renice processes (the browser's), as though the visitors' browsers ran on their own machines."""
    for pid in pids:
        try:
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
        except OSError:
            continue


def main(sessions: int, train_minutes: float, browser_nice: int) -> dict:
    from playwright.sync_api import sync_playwright

    from medlib.answers.diagnose import diagnose
    from medlib.input import read_image
    from medlib.models.loaded import open_model

    screen_side = int(re.search(r"SCREEN_SIDE = (\d+)", (ROOT / "app_pages" / "diagnose.py").read_text())[1])
    folder = Path(tempfile.mkdtemp(prefix="medlib-load-"))
    paths = films(sessions, folder)
    classifier, segmenter = open_model(ROOT / "models" / "cxr-pneumonia"), open_model(ROOT / "models" / "cxr-lungs")
    expected = []
    for path in paths:
        image = read_image(path, reduce_to=screen_side)  # as the page reads it
        result = diagnose(image.frame(0)[..., None], classifier, segmenter, image.spacing, metadata=image.metadata,
                          work_side=screen_side, source_size=image.source_size)
        expected.append(f"{result.class_names[1]} {result.probabilities[1]:.1%}")
    server, url = serve()
    sampler = Sampler(server.pid)
    sampler.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            trainer = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            if train_minutes > 0:  # followed until it trains
                trainer.goto(f"{url}/train")
                start_training(trainer, train_minutes)
                trainer.wait_for_function("() => /images\\/s · ETA/.test(document.body.innerText)", timeout=300_000)
            warm = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            warm.goto(f"{url}/diagnose")  # a first visitor: the real sample film, both models loaded
            warm.get_by_text("lung field outlines by cxr-lungs").first.wait_for(timeout=300_000)
            warm.close()
            pages = []
            for _ in paths:
                page = browser.new_context(viewport={"width": 1000, "height": 900}, reduced_motion="reduce").new_page()
                page.goto(f"{url}/diagnose", timeout=180_000)
                page.get_by_text("Upload files").click(timeout=180_000)
                page.get_by_text("Upload an image to diagnose it.").wait_for(timeout=180_000)
                pages.append(page)
            server_tree = set(tree(server.pid))
            browsers = [pid for pid in tree(os.getpid()) if pid not in server_tree and pid != os.getpid()]
            if browser_nice:
                lower_priority(browsers, browser_nice)
            time.sleep(2)
            before = cpu_seconds(sorted(server_tree)), cpu_seconds(browsers)
            started = []
            for page, path in zip(pages, paths, strict=True):
                page.evaluate(WATCH)
                started.append(page.evaluate("Date.now()"))
                page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))
            for page in pages:
                page.wait_for_function("() => window.__done !== null", timeout=600_000)
            used = cpu_seconds(sorted(server_tree)) - before[0], cpu_seconds(browsers) - before[1]
            seconds = [(page.evaluate("window.__done") - start) / 1000 for page, start in zip(pages, started,
                                                                                                   strict=True)]
            bodies = [page.inner_text("body") for page in pages]
            training = any("spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
                           for pid in tree(server.pid) if Path(f"/proc/{pid}/cmdline").exists())
            browser.close()
    finally:
        sampler.done.set()
        server.terminate()
        server.wait(timeout=60)
    own = [expected[k] in body and all(p.name not in body for j, p in enumerate(paths) if j != k)
           for k, body in enumerate(bodies)]
    ordered = sorted(seconds)
    p95 = ordered[max(0, int(np.ceil(0.95 * len(ordered))) - 1)]
    for k, (value, right) in enumerate(zip(seconds, own, strict=True)):
        print(f"session {k + 1}: result after {value:.2f} s; its own film's result ({expected[k]}): {right}")
    print(f"{sessions} sessions at once, a ninth training (a training process alive at the end: {training}): median "
          f"{float(np.median(seconds)):.2f} s, p95 {p95:.2f} s (goal ≤ 5 s); every session its own result: "
          f"{all(own)}; peak of the server's process tree {sampler.peak['pss']:.0f} MiB PSS, "
          f"{sampler.peak['rss']:.0f} MiB RSS (goal < 2.5 GB); CPU time while they waited: server "
          f"{used[0]:.1f} s, browser and driver {used[1]:.1f} s (browser niceness {browser_nice})")
    return {"seconds": seconds, "p95": p95, "own_result": own, "peak": sampler.peak, "trainer_running": training,
            "cpu_seconds": {"server": used[0], "browser": used[1]}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--train-minutes", type=float, default=10.0, help="0: no ninth session training")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="renice the browser (0-19): on one machine it competes with the server for the CPUs")
    arguments = parser.parse_args()
    print(json.dumps(main(arguments.sessions, arguments.train_minutes, arguments.browser_nice)))
