"""End-to-end: the real server on 127.0.0.1 in headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it).

Opens every page of a demo workspace, waits until Streamlit has finished rendering, runs a sampling action and
checks the rendered images at a projector's 1024 px width, with and without projector mode (tile sizes, caption
size, the mode kept across pages); deletes a sample set through its confirmation; and watches study results
appear run by run without a reload; on the Sample page's Guide tab, draws on the canvas and generates from a real
mask, and sees the agreement. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from testkit.streamlit_client import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("SINGANSEG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# (url path, text that proves the page body rendered)
PAGES = [("", "Workspace"), ("Checkpoints", "Checkpoint"), ("Sample", "Generation start scale"),
         ("Style_transfer", "Samples set"), ("Mask_statistics", "Summary"),
         ("Augmentation_study", "Launch study")]

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def serve(ws, log_path: Path, extra_env: dict[str, str] | None = None):  # noqa: ANN001, ANN201
    """``streamlit run app.py`` on a free port with workspace ``ws`` (and ``extra_env``); yields the base URL."""
    port = free_port()
    env = dict(os.environ, SINGANSEG_WORKSPACE=str(ws.root), PYTHONPATH=str(ROOT), **(extra_env or {}))
    log = open(log_path, "wb")
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
                raise AssertionError("streamlit did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def server(demo_ws, tmp_path: Path):  # noqa: ANN001, ANN201
    """The dashboard in open mode (the default) on the demo workspace; yields the base URL."""
    with serve(demo_ws, tmp_path / "server.log") as url:
        yield url


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


# Words (4+ letters) of headers, bold labels, captions, metric labels and table heads drawn on two lines.
SPLIT_WORDS_JS = """() => {
  const sel = '[data-testid="stMain"] strong, [data-testid="stMain"] h1, [data-testid="stMain"] h2, '
    + '[data-testid="stMain"] h3, [data-testid="stMetricLabel"], [data-testid="stImageCaption"], '
    + '[data-testid="stCaptionContainer"], [data-testid="stMain"] th';
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      for (const m of n.data.matchAll(/[A-Za-z]{4,}/g)) {
        const r = document.createRange();
        r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.top)));
        if (tops.size > 1) out.push(m[0]);
      }
    }
  }
  return out;
}"""


def split_words(page) -> list[str]:  # noqa: ANN001
    """Words the page breaks inside ("discriminato / r")."""
    return page.evaluate(SPLIT_WORDS_JS)


def tick_px(page) -> float:  # noqa: ANN001
    """Computed font size (px) of the first chart's first x-axis tick label (an SVG text)."""
    return page.eval_on_selector('[data-testid="stPlotlyChart"] .xtick text',
                                 "e => parseFloat(getComputedStyle(e).fontSize)")


def projector_at_1024(page, grows: str, text: str, shot: str, height: int) -> None:  # noqa: ANN001
    """At a projector's 1024 px width, switch projector mode on; wait until the first ``grows`` element's font is
    17 px or more and ``text`` is drawn; save ``tests/artifacts/<shot>``; no word of the page breaks in two."""
    page.set_viewport_size({"width": 1024, "height": height})
    page.locator('[data-testid="stSidebar"] label').filter(has_text="Projector mode").click()
    page.wait_for_function(f"() => parseFloat(getComputedStyle(document.querySelector({json.dumps(grows)}))"
                           ".fontSize) >= 17", timeout=60_000)
    wait_rendered(page, text)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    assert split_words(page) == []


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
            page.get_by_role("button", name="Generate", exact=True).click()
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


def test_guide_tab_in_chromium(server: str) -> None:
    """Guide tab: the drawing canvas renders over the training image and a stroke enables Generate; then a real mask
    of the demo dataset → generate → the agreement (mean IoU and one per sample) is shown."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.goto(f"{server}/Sample", wait_until="domcontentloaded")
            wait_rendered(page, "Generation start scale")
            page.get_by_role("tab", name="Guide", exact=False).click()
            wait_rendered(page, "Where the object should go")

            # draw: the canvas is there; a stroke across it turns into a mask and Generate is enabled
            page.get_by_text("Draw it", exact=True).click()
            wait_rendered(page, "Paint the object")
            go = page.get_by_role("button", name="Generate guided samples")
            assert go.is_disabled()
            canvas = page.locator("canvas").last
            canvas.wait_for(state="visible", timeout=60_000)
            box = canvas.bounding_box()
            assert box and box["width"] >= 100, box
            x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4
            page.mouse.move(x, y)
            page.mouse.down()
            for i in range(1, 11):
                page.mouse.move(x + i * box["width"] * 0.03, y + i * box["height"] * 0.02)
            page.mouse.up()
            page.wait_for_function(  # the drawing reached the server: Generate is enabled
                "() => [...document.querySelectorAll('button')].some(b => b.innerText.includes('Generate guided')"
                " && !b.disabled)", timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "guide_drawn.png"), full_page=True)

            # a real mask of the demo dataset → generate → agreement
            page.get_by_text("A real mask from a dataset", exact=True).click()
            wait_rendered(page, "Flip left-right")
            page.get_by_role("button", name="Generate guided samples").click()
            wait_rendered(page, "Agreement with the requested mask")
            page.get_by_text("#3: IoU", exact=False).first.wait_for(state="visible", timeout=60_000)
            assert page.locator('[data-testid="stAlertContentError"]').count() == 0
            assert page.locator('[data-testid="stException"]').count() == 0
            mean = page.locator('[data-testid="stMetricValue"]').first.inner_text()
            assert 0.0 <= float(mean) <= 1.0, mean
            page.screenshot(path=str(ARTIFACTS / "guide_generated.png"), full_page=True)
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


def explore(page, view: str) -> None:  # noqa: ANN001
    """Pick one of the Sample page's explorers (a radio) and wait for its run."""
    page.locator('[data-testid="stRadio"] label').filter(has_text=view).click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'", timeout=60_000)


def test_five_minute_demo_path_in_chromium(server: str, demo_ws) -> None:  # noqa: ANN001
    """The lecturer's demo on the embedded demo: Home → Sample (generate, start-scale comparison, histogram,
    style preview) → How it works → Mask statistics, each step's content checked, a screenshot per step
    (``tests/artifacts/demo_*.png``) and the step times in ``tests/artifacts/demo_steps.json``."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    from singanseg_core.model import SinGANSeg
    from singanseg_core.services.demo import default_checkpoint

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    model = SinGANSeg.from_pretrained(demo_ws.checkpoints / default_checkpoint(demo_ws.list_checkpoints()))
    times: dict[str, float] = {}

    def step(name: str, action, check) -> None:  # noqa: ANN001 - (page actions, the wait that proves it)
        t0 = time.perf_counter()
        action()
        check()
        times[name] = round(time.perf_counter() - t0, 2)
        page.screenshot(path=str(ARTIFACTS / f"demo_{len(times)}_{name}.png"), full_page=True)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            page.goto(server, wait_until="domcontentloaded")
            wait_rendered(page, "Workspace")
            step("home", lambda: None, lambda: wait_rendered(page, "This workspace holds the embedded demo set"))
            step("sample", lambda: nav(page, "Sample", "Generation start scale"),
                 lambda: wait_rendered(page, "Press Generate"))
            step("generate", lambda: page.get_by_role("button", name="Generate", exact=True).click(),
                 lambda: wait_rendered(page, "8 samples in"))
            assert len(tile_boxes(page)) == 8 and page.get_by_text("undertrained").count() == 0

            step("start_scales", lambda: page.get_by_role("button", name="Compare start scales").click(),
                 lambda: wait_rendered(page, "one row per start scale (mask outlined in green)"))
            grid = page.locator('[data-testid="stImage"]').filter(has_text="one row per start scale")
            assert grid.locator("img").evaluate("i => i.naturalHeight") > (model.num_scales + 2) * 128

            step("histogram", lambda: explore(page, "True-pixel histogram"),
                 lambda: (page.get_by_text("Mean true pixels: these 8 samples").wait_for(state="visible"),
                          page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")))
            assert page.locator('[data-testid="stPlotlyChart"]').count() == 1

            def preview() -> None:
                explore(page, "Style preview")
                page.get_by_role("button", name="Preview style transfer").click()
            step("style_preview", preview, lambda: (
                wait_rendered(page, "image(s) restyled"),
                page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")))
            assert page.locator('[data-testid="stImage"]').filter(has_text="restyled").count() == 4
            assert page.locator('[data-testid="stPlotlyChart"]').count() == 1  # the loss curves

            page.set_viewport_size({"width": 1280, "height": 3000})  # the whole pyramid in one screenshot
            step("how_it_works", lambda: nav(page, "How it works", "From the raw mask channel to the mask"),
                 lambda: page.wait_for_function(
                     "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                     f".filter(i => i.complete && i.naturalWidth > 0).length >= {5 * model.num_scales + 7}",
                     timeout=60_000))
            body = page.locator('[data-testid="stMain"]').inner_text()
            assert all(f"scale {i} of {model.num_scales}" in body for i in range(1, model.num_scales + 1))
            assert "True pixels at this threshold" in body
            shutil.copy(ARTIFACTS / f"demo_{len(times)}_how_it_works.png", ARTIFACTS / "teaching_page.png")

            # projector mode on the teaching page: bigger captions, same content
            projector_at_1024(page, '[data-testid="stCaptionContainer"]', "From the raw mask channel to the mask",
                              "teaching_page_projector.png", height=3000)
            page.locator('[data-testid="stSidebar"] label').filter(has_text="Projector mode").click()
            wait_rendered(page, "From the raw mask channel to the mask")
            page.set_viewport_size({"width": 1280, "height": 3000})

            step("mask_statistics", lambda: nav(page, "Mask statistics", "Summary"),
                 lambda: page.locator('[data-testid="stPlotlyChart"] .xtick text').first.wait_for(state="visible"))
            assert page.locator('[data-testid="stException"]').count() == 0
            plain = tick_px(page)
            # projector mode on a chart page: the chart's tick labels (SVG text) grow
            projector_at_1024(page, '[data-testid="stPlotlyChart"] .xtick text', "Summary",
                              "chart_page_projector.png", height=2000)
            assert plain <= 13 and tick_px(page) >= 17
        finally:
            browser.close()
    (ARTIFACTS / "demo_steps.json").write_text(json.dumps(times, indent=1))


CLASSROOM_PASS = "teacher-passphrase-1"


def test_classroom_mode_in_chromium(demo_ws, tmp_path: Path) -> None:  # noqa: ANN001
    """A classroom server: visitors sample, but training is locked and says why; the teacher's passphrase in the
    sidebar unlocks it for that browser session only; no server path is shown; a locked visitor's Sample request
    beyond the visitor cap is refused in one line and nothing is sampled."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    env = {"SINGANSEG_MODE": "classroom", "SINGANSEG_PASSPHRASE": CLASSROOM_PASS}
    with serve(demo_ws, tmp_path / "classroom.log", env) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(f"{url}/Checkpoints", wait_until="domcontentloaded")
            wait_rendered(page, "Classroom mode")
            assert str(demo_ws.root) not in page.locator('[data-testid="stSidebar"]').inner_text()
            page.get_by_role("tab", name="Train").click()
            go = page.get_by_role("button", name="Start training job")
            go.wait_for(state="visible")
            assert go.is_disabled()
            assert page.get_by_text("Training is for the teacher in classroom mode", exact=False).first.is_visible()
            page.screenshot(path=str(ARTIFACTS / "classroom_locked.png"), full_page=True)
            box = page.get_by_label("Teacher's passphrase", exact=True)
            box.fill("not-the-passphrase")
            page.get_by_role("button", name="Unlock").click()
            wait_rendered(page, "Wrong passphrase")
            box = page.get_by_label("Teacher's passphrase", exact=True)
            box.fill(CLASSROOM_PASS)
            page.get_by_role("button", name="Unlock").click()
            wait_rendered(page, "unlocked in this session")
            page.get_by_role("tab", name="Train").click()
            assert page.get_by_role("button", name="Start training job").is_enabled()
            page.reload(wait_until="domcontentloaded")  # the unlock survives a reload in this browser (cookie)
            wait_rendered(page, "unlocked in this session")
            other = browser.new_page()  # another visitor (a new browser context, no cookie): still locked
            other.goto(f"{url}/Checkpoints", wait_until="domcontentloaded")
            wait_rendered(other, "Classroom mode")
            other.get_by_role("tab", name="Train").click()
            assert other.get_by_role("button", name="Start training job").is_disabled()
            # that visitor's largest Sample request (64 samples, 8 redraws) passes the visitor cap: one line, no
            # samples
            other.goto(f"{url}/Sample", wait_until="domcontentloaded")
            wait_rendered(other, "Generation start scale")
            for label, value in (("Samples per checkpoint", "64"), ("Redraw empty masks (tries)", "8")):
                box = other.get_by_role("spinbutton", name=label)
                box.fill(value)
                box.press("Enter")
                wait_rendered(other, "Generation start scale")
            other.get_by_role("button", name="Generate").click()
            wait_rendered(other, "too much work for this server")
            refusal = other.get_by_text("too much work for this server", exact=False).first.inner_text()
            assert "SINGANSEG_VISITOR_SAMPLE_WORK" in refusal and "ask for at most" in refusal
            assert other.get_by_text("samples in", exact=False).count() == 0 and not tile_boxes(other)
            other.screenshot(path=str(ARTIFACTS / "classroom_sample_refused.png"), full_page=True)
        finally:
            browser.close()


def test_teaching_path_opens_on_a_freshly_trained_checkpoint_in_chromium(server: str, demo_ws) -> None:  # noqa: ANN001
    """Train a tiny checkpoint with the CLI into the workspace, then Sample → How it works show it by default; a
    deep link sets the seed; an unknown page path says so."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    data = demo_ws.datasets / "demo-ihc"
    fresh = "fresh_gland"
    subprocess.run([sys.executable, "-m", "singanseg_core", "train", "--image", str(data / "images" / "ihc_r0_c384.png"),
                    "--mask", str(data / "masks" / "ihc_r0_c384.png"), "--out", str(demo_ws.checkpoints / fresh),
                    "--preset", "tiny"], check=True, cwd=ROOT, timeout=600, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(f"{server}/Sample", wait_until="domcontentloaded")
            wait_rendered(page, "Generation start scale")
            chosen = page.locator('[data-testid="stMultiSelect"]').first.inner_text()
            assert fresh in chosen and "ihc_gland_128px" not in chosen, chosen
            nav(page, "How it works", "Output mask channel")
            main = page.locator('[data-testid="stMain"]').inner_text()
            assert fresh in main and "ihc_gland_128px" not in main, main[:400]
            page.screenshot(path=str(ARTIFACTS / "how_it_works_fresh_checkpoint.png"), full_page=True)
            page.goto(f"{server}/How_it_works?seed=5", wait_until="domcontentloaded")
            wait_rendered(page, "Output mask channel")
            seed = page.locator('[data-testid="stMain"] [data-testid="stNumberInput"] input').first
            assert seed.input_value() == "5"   # the page's only number input: the seed
            page.goto(f"{server}/Nope", wait_until="domcontentloaded")
            wait_rendered(page, "There is no page at /Nope")
        finally:
            browser.close()
