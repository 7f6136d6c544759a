"""What the app holds in memory on one server: ``streamlit run app.py`` opened in headless Chromium, page by page.

Usage: python benchmarks/app_memory.py

Serves the app on a free localhost port (the shipped models, read only), opens the Upload page (the synthetic
set), the Preprocessing page, then the Diagnose page (its real sample film through both real-film models, heat map
and lung outline), and prints the server's resident memory after each (VmRSS) and its peak (VmHWM), from
/proc (Linux). Needs Debian's Chromium and Playwright, as the browser tests do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MEDLIB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _memory_mib(pid: int) -> dict[str, float]:
    """Resident and peak resident memory of a process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: round(int(fields[key].split()[0]) / 1024, 1) for key in ("VmRSS", "VmHWM")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "MEDLIB_MODELS": str(ROOT / "models")})
    url = f"http://127.0.0.1:{port}"
    figures: dict[str, dict[str, float]] = {}
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        figures["server started"] = _memory_mib(server.pid)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(url)
            page.get_by_text("Upload your own file above").first.wait_for(timeout=120_000)
            figures["Upload page"] = _memory_mib(server.pid)
            page.get_by_role("link", name="Preprocessing").click()
            page.get_by_role("heading", name="Preprocessing").first.wait_for(timeout=120_000)
            page.wait_for_timeout(3000)
            figures["Preprocessing page"] = _memory_mib(server.pid)
            page.get_by_role("link", name="Diagnose").click()
            page.get_by_text("lung field outlines by cxr-lungs").first.wait_for(timeout=300_000)
            figures["Diagnose page, a real film through both models"] = _memory_mib(server.pid)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    for step, memory in figures.items():
        print(f"{step}: {memory['VmRSS']} MiB resident, peak {memory['VmHWM']} MiB")
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
