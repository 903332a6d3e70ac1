"""Server-side guards of a shared dashboard, below the pages: what a visitor can send to Streamlit without any
page being involved.

* **Uploads.** Streamlit's upload route (``PUT /_stcore/upload_file/<session>/<file>``) keeps any file an active
  session sends, whether or not a page drew an uploader. :func:`guard_uploads` makes the route refuse a session the
  access policy does not let upload (HTTP 403, checked before the body is read) and count the files it keeps per
  session and per server against the policy's caps (HTTP 429 beyond them; ``UploadCounts``).
* **Cache clearing.** A ``clear_cache`` BackMsg (the browser's "Clear cache") clears every user's caches; in
  classroom mode :func:`guard_clear_cache` ignores it from a session that is not unlocked.
* **Unlocked sessions.** The sidebar's passphrase unlock writes the session id here (:func:`set_unlocked`), so the
  guards, which run outside any script, know which sessions the teacher unlocked.

:func:`install_server_guards` puts both guards in place once per process (``app.py`` calls it on every run; it
does nothing outside a Streamlit server, e.g. under AppTest). Streamlit only imports ``app.py`` at the first page
view, so on a fresh server the guards start then; files a locked session sent before are dropped at that moment.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from typing import Any, Callable

from singanseg_core.services.access import AccessPolicy, policy_from_env
from singanseg_core.services.uploads_quota import UploadCounts

LOG = logging.getLogger(__name__)
FORBIDDEN, TOO_MANY = 403, 429            # HTTP statuses of a refused upload: locked / over a cap
_GUARDED = "_singanseg_guarded"           # attribute set on what a guard wraps (installs are idempotent)

_UNLOCKED: set[str] = set()
_UNLOCKED_LOCK = threading.Lock()
RECEIVED = UploadCounts()                 # files the upload route kept, per session and for the server


def current_session_id() -> str | None:
    """The id of the browser session running this script (``None`` outside a script run)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def set_unlocked(session_id: str | None, unlocked: bool) -> None:
    """Record that ``session_id`` entered the passphrase (``True``) or locked itself again (``False``)."""
    if not session_id:
        return
    with _UNLOCKED_LOCK:
        (_UNLOCKED.add if unlocked else _UNLOCKED.discard)(session_id)


def is_unlocked(session_id: str | None) -> bool:
    with _UNLOCKED_LOCK:
        return bool(session_id) and session_id in _UNLOCKED


def _tag(session_id: str | None) -> str:
    return hashlib.sha256(str(session_id).encode("utf-8")).hexdigest()[:8]


def upload_refusal(session_id: str, policy: AccessPolicy, counts: UploadCounts | None = None,
                   take: bool = False) -> tuple[int, str] | None:
    """Why the server refuses one more uploaded file from ``session_id`` (HTTP status, one sentence), or ``None``.

    Locked in classroom mode → 403; past ``policy.max_uploads_per_session`` files for this session or
    ``policy.max_uploads_per_server`` for every session together → 429. With ``take`` the file is counted when it
    is allowed (checking and counting under one lock, so parallel uploads cannot overshoot a cap). ``counts``:
    :data:`RECEIVED` unless given.
    """
    counts = RECEIVED if counts is None else counts
    allowed, why = policy.allows("upload", unlocked=is_unlocked(session_id))
    if not allowed:
        return FORBIDDEN, why
    caps = dict(server_cap=policy.max_uploads_per_server, session_id=session_id,
                session_cap=policy.max_uploads_per_session)
    why = counts.take(1, **caps) if take else counts.refusal(1, **caps)
    return (TOO_MANY, why) if why else None


def _raise_refusal(session_id: str, refusal: tuple[int, str]) -> None:
    from starlette.exceptions import HTTPException

    status, why = refusal
    LOG.warning("upload refused (HTTP %d) for session %s: %s", status, _tag(session_id), why)
    raise HTTPException(status_code=status, detail=f"upload refused: {why}")


def guard_uploads(manager: Any, runtime: Any = None,
                  policy_fn: Callable[[], AccessPolicy] = policy_from_env) -> bool:
    """Wrap ``manager.add_file`` (a ``MemoryUploadedFileManager``) so a refused upload raises Starlette's
    ``HTTPException`` (the route answers with its status) and nothing is stored; and, when ``runtime`` is given,
    its ``is_active_session`` (the upload route's first check, before it reads the body) so a locked session is
    refused before its bytes are read. Drops files already held for sessions that may not upload.
    Returns False when ``manager`` was already guarded."""
    if getattr(manager.add_file, _GUARDED, False):
        return False
    add_file = manager.add_file

    @functools.wraps(add_file)
    def guarded_add_file(session_id: str, file: Any) -> None:
        refusal = upload_refusal(session_id, policy_fn(), take=True)
        if refusal:
            _raise_refusal(session_id, refusal)
        add_file(session_id=session_id, file=file)

    setattr(guarded_add_file, _GUARDED, True)
    manager.add_file = guarded_add_file
    if runtime is not None and not getattr(runtime.is_active_session, _GUARDED, False):
        is_active = runtime.is_active_session

        @functools.wraps(is_active)
        def active_and_may_upload(session_id: str) -> bool:
            # Streamlit 1.67 calls this only from the upload route, before the body is read.
            if not is_active(session_id):
                return False
            refusal = upload_refusal(session_id, policy_fn())
            if refusal:
                _raise_refusal(session_id, refusal)
            return True

        setattr(active_and_may_upload, _GUARDED, True)
        runtime.is_active_session = active_and_may_upload
    policy = policy_fn()
    for session_id in list(getattr(manager, "file_storage", {})):
        if not policy.allows("upload", unlocked=is_unlocked(session_id))[0]:
            manager.remove_session_files(session_id)
    return True


def clear_cache_refusal(session_id: str | None, policy: AccessPolicy) -> str | None:
    """Why ``session_id`` may not clear the server's caches (classroom mode, not unlocked), or ``None``."""
    if not policy.classroom or (policy.passphrase_sha256 is not None and is_unlocked(session_id)):
        return None
    return "clearing the server's caches is for unlocked sessions in classroom mode"


def guard_clear_cache(session_class: Any, policy_fn: Callable[[], AccessPolicy] = policy_from_env) -> bool:
    """Wrap ``session_class._handle_clear_cache_request`` (Streamlit's ``AppSession``): a refused session's
    ``clear_cache`` message is logged and ignored; an allowed one clears as before and, as its session state
    (its unlock included) is cleared with the caches, the session is locked again here too.
    Returns False when already guarded."""
    handler = session_class._handle_clear_cache_request
    if getattr(handler, _GUARDED, False):
        return False

    @functools.wraps(handler)
    def guarded_clear_cache(self: Any) -> None:
        session_id = getattr(self, "id", None)
        why = clear_cache_refusal(session_id, policy_fn())
        if why:
            LOG.warning("clear_cache ignored for session %s: %s", _tag(session_id), why)
            return
        handler(self)
        set_unlocked(session_id, False)

    setattr(guarded_clear_cache, _GUARDED, True)
    session_class._handle_clear_cache_request = guarded_clear_cache
    return True


def install_server_guards() -> bool:
    """Both guards on this Streamlit server (idempotent); False outside a running server (AppTest, bare mode)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.app_session import AppSession

    if not Runtime.exists():
        return False
    runtime = Runtime.instance()
    manager = runtime.uploaded_file_mgr
    if hasattr(manager, "add_file"):
        guard_uploads(manager, runtime)
    guard_clear_cache(AppSession)
    return True


__all__ = ["FORBIDDEN", "RECEIVED", "TOO_MANY", "clear_cache_refusal", "current_session_id", "guard_clear_cache",
           "guard_uploads", "install_server_guards", "is_unlocked", "set_unlocked", "upload_refusal"]
