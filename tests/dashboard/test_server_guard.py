"""The guards below the pages (``ui.server_guard``): uploads refused for locked sessions and counted per session and
per server, ``clear_cache`` ignored from locked sessions; the upload caps and the passphrase gate on the pages; one
end-to-end check against a real server on loopback."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from starlette.exceptions import HTTPException
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

import ui.server_guard as guard
from singanseg_core.services.access import AccessPolicy, sha256_hex
from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page, png
from testkit.zips import make_zip

SECRET = "a long secret"
CLASSROOM = AccessPolicy("classroom", sha256_hex(SECRET), 2, 3)


def _rec(i: int) -> UploadedFileRec:
    return UploadedFileRec(file_id=f"f{i}", name=f"f{i}.png", type="image/png", data=b"x" * 1000)


def _held(mgr: MemoryUploadedFileManager, session_id: str) -> int:
    return len(mgr.file_storage.get(session_id, {}))


def _status(mgr: MemoryUploadedFileManager, session_id: str, i: int) -> int:
    try:
        mgr.add_file(session_id, _rec(i))
    except HTTPException as err:
        return err.status_code
    return 204


def test_a_locked_session_keeps_no_file_and_caps_count_per_session_and_server() -> None:
    mgr = MemoryUploadedFileManager("/upload")
    assert guard.guard_uploads(mgr, policy_fn=lambda: CLASSROOM)
    assert not guard.guard_uploads(mgr, policy_fn=lambda: CLASSROOM)  # once
    assert [_status(mgr, "visitor", i) for i in range(6)] == [403] * 6
    assert _held(mgr, "visitor") == 0 and mgr._total_bytes == 0
    guard.set_unlocked("teacher", True)
    guard.set_unlocked("tab2", True)
    assert [_status(mgr, "teacher", i) for i in range(3)] == [204, 204, 429]  # 2 per session
    assert [_status(mgr, "tab2", i) for i in range(2)] == [204, 429]          # 3 per server: a new tab goes on
    assert (_held(mgr, "teacher"), _held(mgr, "tab2")) == (2, 1)
    guard.set_unlocked("teacher", False)
    assert _status(mgr, "teacher", 9) == 403


def test_open_mode_uploads_are_only_counted() -> None:
    mgr = MemoryUploadedFileManager("/upload")
    guard.guard_uploads(mgr, policy_fn=lambda: AccessPolicy("open", None, 2, 10))
    assert [_status(mgr, "anyone", i) for i in range(3)] == [204, 204, 429]


def test_the_route_refuses_a_locked_session_before_reading_the_body_and_drops_what_it_held() -> None:
    mgr = MemoryUploadedFileManager("/upload")
    mgr.add_file("early", _rec(0))  # sent before the guards were installed
    guard.set_unlocked("teacher", True)
    mgr.add_file("teacher", _rec(1))
    runtime = SimpleNamespace(is_active_session=lambda sid: sid != "gone")
    guard.guard_uploads(mgr, runtime, policy_fn=lambda: CLASSROOM)
    assert (_held(mgr, "early"), _held(mgr, "teacher")) == (0, 1)
    assert runtime.is_active_session("teacher") is True
    assert runtime.is_active_session("gone") is False
    with pytest.raises(HTTPException) as err:
        runtime.is_active_session("early")
    assert err.value.status_code == 403 and "passphrase" in err.value.detail


class _Session:
    cleared: list[str] = []

    def __init__(self, sid: str) -> None:
        self.id = sid

    def _handle_clear_cache_request(self) -> None:
        self.cleared.append(self.id)


@pytest.mark.parametrize("policy, unlocked, cleared", [
    (CLASSROOM, False, False), (CLASSROOM, True, True), (AccessPolicy(), False, True),
    (AccessPolicy("classroom"), True, False),  # no passphrase: nobody is unlocked
])
def test_clear_cache_is_for_unlocked_sessions_in_classroom_mode(policy: AccessPolicy, unlocked: bool,
                                                                  cleared: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cls = type("Session", (_Session,), {"cleared": []})
    assert guard.guard_clear_cache(cls, policy_fn=lambda: policy)
    assert not guard.guard_clear_cache(cls, policy_fn=lambda: policy)
    guard.set_unlocked("s", unlocked)
    cls("s")._handle_clear_cache_request()
    assert cls.cleared == (["s"] if cleared else [])
    assert guard.is_unlocked("s") == (unlocked and not cleared)  # a clear empties its state, the unlock too


# ---------------------------------------------------------------------------------------------- on the pages
def _pair(i: int) -> tuple[bytes, bytes]:
    img = np.zeros((20, 24, 3), np.uint8)
    img[2:10, 2:10] = 40 + i
    mask = np.zeros((20, 24), np.uint8)
    mask[2:10, 2:10] = 255
    return png(img), png(mask)


def _import_zip(at, data: bytes):  # noqa: ANN001, ANN202 - AppTest
    at.radio(key="up_mode").set_value("zip (Kvasir-SEG layout)")
    at = at.run()
    by_key(at, "file_uploader", "up_zip").upload("many.zip", data, "application/zip")
    return by_key(at.run(), "button", "up_zip_go").click().run()


@pytest.mark.slow
def test_a_zip_counts_as_the_images_it_holds(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MAX_UPLOADS", "50")
    entries = {}
    for i in range(40):  # 80 image files
        img, mask = _pair(i)
        entries[f"images/p{i}.png"], entries[f"masks/p{i}.png"] = img, mask
    at = _import_zip(page("pages/Checkpoints.py").run(), make_zip(entries))
    assert at.error and "upload refused" in at.error[0].value and "50 per browser session" in at.error[0].value
    assert not (demo_ws.datasets / "my-data").exists()


@pytest.mark.slow
def test_the_server_cap_survives_new_sessions(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MAX_UPLOADS_SERVER", "3")
    sessions = []
    for i in range(2):  # two browser sessions, one pair each: the second would be files 3 and 4
        at = page("pages/Checkpoints.py").run()
        img, mask = _pair(i)
        by_key(at, "file_uploader", "up_images").upload(f"s{i}.png", img, "image/png")
        by_key(at, "file_uploader", "up_masks").upload(f"s{i}.png", mask, "image/png")
        sessions.append(at.run())
    ok(by_key(sessions[0], "button", "up_add").click().run())
    assert (demo_ws.datasets / "my-data" / "images" / "s0.png").exists()
    add = by_key(sessions[1].run(), "button", "up_add")
    assert add.disabled and "the server accepts 1 more uploaded file(s)" in add.proto.help


# ---------------------------------------------------------------------------------------------- a real server
@pytest.mark.slow
def test_a_real_server_refuses_locked_puts_writes_nothing_on_clear_cache_and_limits_guesses(tmp_path) -> None:  # noqa: ANN001
    """A hostile visitor with a websocket and PUTs: refused uploads, a cache clear that writes nothing, the
    server-wide passphrase backoff; then the teacher's unlock reaches the upload guard."""
    import time

    from testkit.streamlit_client import Visitor, dashboard_server, put_upload

    ws = Workspace(tmp_path / "ws")
    (ws.root / "demo.json").write_text('{"demo": true}')  # the teacher emptied a demo workspace
    env = {"SINGANSEG_WORKSPACE": str(ws.root), "SINGANSEG_MODE": "classroom", "SINGANSEG_PASSPHRASE": SECRET}
    with dashboard_server(env) as server, Visitor(server) as visitor:
        drawn = visitor.run()
        locked = [put_upload(server, visitor.session_id, b"x" * (1 << 20)) for _ in range(3)]
        visitor.clear_cache()
        drawn = visitor.run()
        said = [visitor.guess_passphrase(drawn, f"wrong {i}")[1] for i in range(7)]
        time.sleep(1.5)  # the wait after the sixth wrong guess is 1 s
        visitor.guess_passphrase(drawn, SECRET)
        unlocked = put_upload(server, visitor.session_id, b"x" * 1000)
    assert locked == [403] * 3
    assert ws.list_datasets() == [] and ws.list_checkpoints() == [] and ws.list_sample_sets() == []
    assert said[:5] == ["Wrong passphrase."] * 5
    assert "Next try in 1 s" in said[5] and "Too many wrong passphrases" in said[6]
    assert unlocked == 204
