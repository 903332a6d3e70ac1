"""Classroom mode on the pages (``services.access`` through ``ui_common``): write actions are disabled and say
why, the passphrase unlocks them for one session, paths are shown relative to the workspace, and the upload cap
holds. The real-browser check is ``test_classroom_mode_in_chromium`` below."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from singanseg_core.services import jobs
from singanseg_core.services.workspace import Workspace
from tests.test_app_pages import by_key, page, png
from tests.test_browser_e2e import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server, wait_rendered  # noqa: F401

SECRET = "teach-me-singan"


@pytest.fixture
def classroom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    monkeypatch.setenv("SINGANSEG_PASSPHRASE", SECRET)
    monkeypatch.setenv("SINGANSEG_MAX_UPLOADS", "2")


def disabled_with_reason(at: AppTest, key: str) -> str:
    b = by_key(at, "button", key)
    assert b.proto.disabled, f"{key} should be disabled in classroom mode"
    assert "classroom mode" in b.proto.help and "passphrase" in b.proto.help, b.proto.help
    return b.proto.help


def unlock(at: AppTest, text: str) -> AppTest:
    by_key(at, "text_input", "_passphrase").input(text)
    return next(b for b in at.button if b.label == "Unlock").click().run()


def test_classroom_locks_write_buttons_and_unlocks_with_the_passphrase(demo_ws: Workspace, classroom: None,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Path] = []
    monkeypatch.setattr(jobs, "_spawn", lambda ws, job_dir: started.append(job_dir))
    (demo_ws.legacy / "TrainedModels_1_clean").mkdir(parents=True)
    at = page("pages/1_Checkpoints.py").run()
    assert not at.exception
    assert any("Classroom mode" in i.value for i in at.sidebar.info)
    for key in ("tr_go", "lg_go", "ck_del_ask", "ds_del_ask"):
        disabled_with_reason(at, key)
    # no server path anywhere on the page: the workspace is shown as "workspace"
    shown = " ".join(c.value for c in at.sidebar.caption) + " ".join(m.value for m in at.markdown)
    assert str(demo_ws.root) not in shown and "`workspace`" in shown

    at = unlock(at, "wrong passphrase")
    assert any("Wrong passphrase" in e.value for e in at.sidebar.error)
    assert by_key(at, "button", "tr_go").proto.disabled

    at = unlock(at, SECRET)
    assert any("unlocked" in s.value for s in at.sidebar.success)
    assert not by_key(at, "button", "tr_go").proto.disabled
    by_key(at, "button", "tr_go").click().run()
    assert len(started) == 1, "an unlocked session may train"
    job = jobs.list_jobs(demo_ws)[0]
    assert not by_key(at, "button", f"cancel_train_{job.id}").proto.disabled

    next(b for b in at.button if b.key == "_lock_again").click().run()
    assert by_key(at, "button", "tr_go").proto.disabled
    cancel = by_key(at, "button", f"cancel_train_{job.id}")
    assert cancel.proto.disabled and "classroom mode" in cancel.proto.help


def test_classroom_without_passphrase_has_no_unlock_and_sample_stays_open(demo_ws: Workspace,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    at = page("pages/2_Sample.py").run()
    assert not at.exception and not at.error
    assert not [t for t in at.text_input if t.key == "_passphrase"], "nothing to unlock without a passphrase"
    go = by_key(at, "button", "sm_go")
    assert not go.proto.disabled, "sampling is a read action"
    go.click().run()
    save = by_key(at, "button", "sm_save")
    assert save.proto.disabled and "disabled in classroom mode" in save.proto.help


def test_malformed_access_setting_locks_writes_and_says_so(demo_ws: Workspace,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MODE", "public")
    at = page("pages/1_Checkpoints.py").run()
    assert any("Access setting refused" in e.value for e in at.sidebar.error)
    assert by_key(at, "button", "tr_go").proto.disabled


def test_upload_cap_per_session_and_duplicates_reported(demo_ws: Workspace, classroom: None) -> None:
    import numpy as np

    img = np.zeros((40, 40, 3), np.uint8)
    img[5:25, 5:25] = 200
    mask = np.zeros((40, 40), np.uint8)
    mask[5:25, 5:25] = 255
    at = unlock(page("pages/1_Checkpoints.py").run(), SECRET)
    by_key(at, "file_uploader", "up_images").upload("a.png", png(img), "image/png")
    by_key(at, "file_uploader", "up_masks").upload("a.png", png(mask), "image/png")
    at = by_key(at.run(), "button", "up_add").click().run()
    assert not at.exception and any("Added 1 pair" in s.value for s in at.success)
    add = by_key(at.run(), "button", "up_add")  # the same two files again: over this session's cap of 2
    assert add.proto.disabled and "0 more file(s)" in add.proto.help and "2 per session" in add.proto.help


def test_reupload_is_reported_as_skipped(demo_ws: Workspace) -> None:
    import numpy as np

    img = np.zeros((40, 40, 3), np.uint8)
    img[5:25, 5:25] = 200
    mask = np.zeros((40, 40), np.uint8)
    mask[5:25, 5:25] = 255
    at = page("pages/1_Checkpoints.py").run()
    for _ in range(2):
        by_key(at, "file_uploader", "up_images").upload("a.png", png(img), "image/png")
        by_key(at, "file_uploader", "up_masks").upload("a.png", png(mask), "image/png")
        at = by_key(at.run(), "button", "up_add").click().run()
    assert any("Added 0 pair" in s.value for s in at.success)
    assert at.warning and "a.png" in at.warning[0].value, "the duplicate is named, not silently dropped"


@pytest.mark.browser
def test_classroom_mode_in_chromium(classroom: None, server: str, demo_ws: Workspace) -> None:  # noqa: F811
    """The real server in classroom mode: a visitor samples but cannot train or delete (disabled, with the
    reason); the passphrase unlocks this tab only; no server path is shown."""
    assert os.environ["SINGANSEG_MODE"] == "classroom"
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page_ = browser.new_page(viewport={"width": 1280, "height": 2000})
            page_.goto(f"{server}/Checkpoints", wait_until="domcontentloaded")
            wait_rendered(page_, "Classroom mode")
            body = page_.locator('[data-testid="stApp"]').inner_text()
            assert str(demo_ws.root) not in body, "a server path is shown in classroom mode"
            page_.get_by_role("tab", name="Train").click()
            train = page_.get_by_role("button", name="Start training job")
            train.wait_for(state="visible", timeout=60_000)
            assert train.is_disabled()
            reasons = page_.get_by_text("'train' is locked in classroom mode", exact=False)
            assert any(reasons.nth(i).is_visible() for i in range(reasons.count())), "the reason is not shown"
            page_.screenshot(path=str(ARTIFACTS / "classroom_locked.png"), full_page=True)

            page_.get_by_label("Teacher's passphrase", exact=True).fill(SECRET)
            page_.get_by_role("button", name="Unlock").click()
            wait_rendered(page_, "unlocked in this tab")
            page_.get_by_role("tab", name="Train").click()
            deadline = time.time() + 60
            while page_.get_by_role("button", name="Start training job").is_disabled() and time.time() < deadline:
                time.sleep(0.3)
            assert page_.get_by_role("button", name="Start training job").is_enabled()

            other = browser.new_page(viewport={"width": 1280, "height": 2000})  # another visitor's tab
            other.goto(f"{server}/Checkpoints", wait_until="domcontentloaded")
            wait_rendered(other, "Classroom mode")
            other.get_by_role("tab", name="Train").click()
            assert other.get_by_role("button", name="Start training job").is_disabled()
        finally:
            browser.close()
