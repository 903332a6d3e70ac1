"""End-to-end: the real server on 127.0.0.1 in headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it).

Opens every page of a demo workspace, waits until Streamlit has finished rendering, runs a sampling action and
checks the rendered images. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("SINGANSEG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# (url path, text that proves the page body rendered)
PAGES = [("", "Workspace"), ("Checkpoints", "Checkpoint"), ("Sample", "Generation start scale"),
         ("Style_transfer", "Samples set"), ("Mask_statistics", "Summary"),
         ("Augmentation_study", "Launch study")]

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(demo_ws, tmp_path: Path):  # noqa: ANN001, ANN201
    """``streamlit run app.py`` on a free port with the demo workspace; yields the base URL."""
    port = free_port()
    env = dict(os.environ, SINGANSEG_WORKSPACE=str(demo_ws.root), PYTHONPATH=str(ROOT))
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError("streamlit did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_rendered(page, text: str, timeout_ms: int = 120_000) -> None:  # noqa: ANN001
    """Wait until the script run has finished and ``text`` is visible (first loads after start-up are slow)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout_ms)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'", timeout=timeout_ms)
    # element code is loaded lazily by the browser: wait until no placeholder skeleton is left
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
                           timeout=timeout_ms)


def test_every_page_and_sampling_in_chromium(server: str) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`, "
                    "as .ci/run does) or set SINGANSEG_CHROMIUM")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, text in PAGES:
                page.goto(f"{server}/{path}", wait_until="domcontentloaded")
                wait_rendered(page, text)
                assert page.locator('[data-testid="stException"]').count() == 0, f"exception on /{path}"
                assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"error on /{path}"
                page.screenshot(path=str(ARTIFACTS / f"page_{path or 'Home'}.png"), full_page=True)

            # the sidebar navigation names every page by its label (the entry script is not a page called "app")
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text().splitlines()
            lines = [line.strip() for line in nav if line.strip()]  # icon ligature names come as text too
            expected = ["Home", "Checkpoints", "Sample", "Style transfer", "Mask statistics", "Augmentation study"]
            assert [x for x in lines if x in expected] == expected and "app" not in lines, lines

            # sampling: 4 samples from the first demo checkpoint
            page.goto(f"{server}/Sample", wait_until="domcontentloaded")
            wait_rendered(page, "Generation start scale")
            n = page.get_by_role("spinbutton", name="Samples per checkpoint")
            n.fill("4")
            n.press("Enter")
            wait_rendered(page, "Generation start scale")
            page.get_by_role("button", name="Generate").click()
            wait_rendered(page, "4 samples in")
            page.wait_for_function(  # the images really loaded (decoded with a size), not just placeholders
                "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                ".filter(i => i.complete && i.naturalWidth > 0).length >= 7", timeout=60_000)
            tiles = page.locator('[data-testid="stImage"] img')
            assert tiles.count() >= 4 + 3, f"expected sample tiles, found {tiles.count()} images"
            assert page.get_by_text("#3 · ", exact=False).count() >= 1  # caption of the 4th sample
            page.screenshot(path=str(ARTIFACTS / "sample_generated.png"), full_page=True)
        finally:
            browser.close()
