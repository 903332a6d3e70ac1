"""End-to-end: the real server on 127.0.0.1 in headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it).

Opens every page of a demo workspace, waits until Streamlit has finished rendering, runs a sampling action and
checks the rendered images at a projector's 1024 px width, with and without projector mode (tile sizes, caption
size, the mode kept across pages); deletes a sample set through its confirmation; and watches study results
appear run by run without a reload. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import json
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


def tile_boxes(page) -> list[dict]:  # noqa: ANN001
    """Rendered boxes (px) of the sample tiles (images captioned "#k · ...")."""
    return page.eval_on_selector_all(
        '[data-testid="stImage"]',
        "els => els.filter(e => (e.innerText || '').trim().startsWith('#'))"
        ".map(e => { const r = e.querySelector('img').getBoundingClientRect(); "
        "return {w: r.width, h: r.height}; })")


def caption_px(page) -> float:  # noqa: ANN001
    return page.eval_on_selector('[data-testid="stImageCaption"]', "e => parseFloat(getComputedStyle(e).fontSize)")


def nav(page, label: str, text: str) -> None:  # noqa: ANN001
    """Go to a page through the sidebar (the same browser session: session state is kept)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=label).first.click()
    wait_rendered(page, text)


def test_every_page_and_sampling_in_chromium(server: str, demo_ws) -> None:  # noqa: ANN001
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`, "
                    "as .ci/run does) or set SINGANSEG_CHROMIUM")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            for path, text in PAGES:
                page.goto(f"{server}/{path}", wait_until="domcontentloaded")
                wait_rendered(page, text)
                assert page.locator('[data-testid="stException"]').count() == 0, f"exception on /{path}"
                assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"error on /{path}"
                page.screenshot(path=str(ARTIFACTS / f"page_{path or 'Home'}.png"), full_page=True)

            # the sidebar navigation names every page by its label (the entry script is not a page called "app")
            nav_lines = page.locator('[data-testid="stSidebarNav"]').inner_text().splitlines()
            lines = [line.strip() for line in nav_lines if line.strip()]  # icon ligature names come as text too
            expected = ["Home", "Checkpoints", "Sample", "Style transfer", "Mask statistics", "Augmentation study"]
            assert [x for x in lines if x in expected] == expected and "app" not in lines, lines

            # sampling on a 1024-px projector: 4 samples from the first demo checkpoint
            page.set_viewport_size({"width": 1024, "height": 2200})
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
            assert page.get_by_text("#3 · ", exact=False).count() >= 1  # caption of the 4th sample
            boxes = tile_boxes(page)
            assert len(boxes) == 4
            # image / mask / overlay stacked: each panel about as wide as its column (was ~130x45 px in a row)
            assert all(b["w"] >= 120 and b["h"] >= 3 * 110 for b in boxes), boxes
            normal_w, normal_caption = boxes[0]["w"], caption_px(page)
            page.screenshot(path=str(ARTIFACTS / "sample_generated.png"), full_page=True)

            # projector mode: one toggle, then larger tiles, fewer per row, bigger captions
            page.locator('[data-testid="stSidebar"] label').filter(has_text="Projector mode").click()
            page.wait_for_function(
                "() => parseFloat(getComputedStyle(document.querySelector('[data-testid=\"stImageCaption\"]'))"
                ".fontSize) >= 20", timeout=60_000)
            wait_rendered(page, "4 samples in")
            boxes = tile_boxes(page)
            assert len(boxes) == 4 and all(b["w"] >= 1.8 * normal_w for b in boxes), (normal_w, boxes)
            assert caption_px(page) >= 1.2 * normal_caption
            page.screenshot(path=str(ARTIFACTS / "sample_projector.png"), full_page=True)
            nav(page, "Checkpoints", "Checkpoint")  # remembered when the lecturer moves on
            page.screenshot(path=str(ARTIFACTS / "checkpoints_projector.png"), full_page=True)
            nav(page, "Sample", "Generation start scale")
            assert page.locator('[data-testid="stSidebar"] input[type="checkbox"]').first.is_checked()

            # delete a sample set from Home, only after confirming
            from singanseg_core.services.demo import DEMO_SAMPLES

            nav(page, "Home", "Workspace")
            page.get_by_text("Manage workspace items", exact=False).click()
            page.get_by_text("sample sets", exact=True).click()
            wait_rendered(page, f"Delete sample set {DEMO_SAMPLES}")
            page.get_by_role("button", name=f"Delete sample set {DEMO_SAMPLES}").click()
            wait_rendered(page, "cannot be undone")
            assert (demo_ws.samples / DEMO_SAMPLES).is_dir()
            page.screenshot(path=str(ARTIFACTS / "home_delete_confirm.png"), full_page=True)
            page.get_by_role("button", name=f"Yes, delete {DEMO_SAMPLES}").click()
            wait_rendered(page, "Deleted sample set")
            assert not (demo_ws.samples / DEMO_SAMPLES).exists()

            # a running study: its results appear run by run, without reloading the page
            study = running_study(demo_ws)
            nav(page, "Augmentation study", "Launch study")
            wait_rendered(page, "0 run(s) finished")
            add_run(study, "R001-real", 0.41)
            page.get_by_text("1 run(s) finished", exact=False).first.wait_for(state="visible", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "study_running.png"), full_page=True)
        finally:
            browser.close()


def running_study(ws) -> Path:  # noqa: ANN001
    """A study folder and a job that looks running (its pid is this test process) that writes it."""
    from singanseg_core.files.atomic import atomic_write_json
    from singanseg_core.services import jobs
    from singanseg_core.studies import StudyConfig

    d = ws.studies / "live"
    (d / "runs").mkdir(parents=True)
    cfg = StudyConfig.from_preset("small-data", "demo", ws.datasets / "demo-ihc", r_values=[1])
    (d / "study.json").write_text(json.dumps(cfg.to_dict()))
    job = jobs.submit(ws, "study", {"name": "live", "kind": "small-data", "preset": "demo", "dataset": "demo-ihc",
                                    "overrides": {"r_values": [1]}}, title="study live", start=False)
    atomic_write_json(job.dir / "status.json", {"state": "running", "progress": 0.0, "message": "run 1 of 3",
                                                "items": {}, "pid": os.getpid(), "pid_started": time.time(),
                                                "updated": time.time()})
    return d


def add_run(study: Path, run_id: str, iou: float) -> None:
    from singanseg_core.files.atomic import atomic_directory
    from singanseg_core.studies.results import TABLE_COLUMNS

    row = dict.fromkeys(TABLE_COLUMNS, 0)
    row.update(run_id=run_id, kind="small-data", train_set="real", train_data="real", variant="", R=1, n_train=1,
               n_val=5, iou=iou, fscore=iou)
    with atomic_directory(study / "runs" / run_id) as tmp:
        (tmp / "result.json").write_text(json.dumps(row))
