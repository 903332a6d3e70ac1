"""Counting uploaded files against the access policy's caps: per browser session and for the whole server
process (a new browser session starts its own count, the server's count goes on until the process restarts).

:class:`UploadCounts` is thread-safe and holds counts only; the caps are passed with each request (they come from
``services.access.AccessPolicy``: ``max_uploads_per_session``, ``max_uploads_per_server``), so the same counts
serve whatever policy the server runs under. :func:`zip_image_count` says how many files a zip brings (its
entries that are images), so a zip is counted as what it holds, not as one file.
"""

from __future__ import annotations

import io
import threading
import zipfile
from pathlib import PurePosixPath

from ..errors import InputError
from ..files.pairs import IMAGE_SUFFIXES
from .workspace import MAX_ZIP_FILES

MAX_TRACKED_SESSIONS = 100_000   # session counts kept (~100 B each); the oldest are forgotten beyond this


class UploadCounts:
    """Files taken so far, per session id and for the server (every session together)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, int] = {}
        self._server = 0

    def used(self, session_id: str | None = None) -> int:
        """Files counted for ``session_id``, or for the whole server when ``None``."""
        with self._lock:
            return self._server if session_id is None else self._sessions.get(session_id, 0)

    def refusal(self, n: int, server_cap: int, session_id: str | None = None,
                session_cap: int | None = None) -> str | None:
        """Why ``n`` more files would pass ``server_cap`` (or ``session_cap`` for ``session_id``), one sentence;
        ``None`` when they fit. Counts nothing."""
        with self._lock:
            return self._why(max(0, int(n)), server_cap, session_id, session_cap)

    def take(self, n: int, server_cap: int, session_id: str | None = None,
             session_cap: int | None = None) -> str | None:
        """Count ``n`` files for the server (and for ``session_id`` when given) if they fit the caps (checked
        and counted under one lock); else count nothing and return :meth:`refusal`'s sentence."""
        n = max(0, int(n))
        with self._lock:
            why = self._why(n, server_cap, session_id, session_cap)
            if why:
                return why
            self._server += n
            if session_id is not None:
                if session_id not in self._sessions and len(self._sessions) >= MAX_TRACKED_SESSIONS:
                    self._sessions.pop(next(iter(self._sessions)))
                self._sessions[session_id] = self._sessions.get(session_id, 0) + n
        return None

    def _why(self, n: int, server_cap: int, session_id: str | None, session_cap: int | None) -> str | None:
        if self._server + n > server_cap:
            return (f"the server accepts {max(0, server_cap - self._server)} more uploaded file(s) (at most "
                    f"{server_cap} from all browser sessions until it restarts)")
        if session_id is not None and session_cap is not None:
            mine = self._sessions.get(session_id, 0)
            if mine + n > session_cap:
                return (f"this session may upload {max(0, session_cap - mine)} more file(s) (the server allows "
                        f"{session_cap} per browser session)")
        return None

    def give_back(self, n: int, session_id: str | None = None) -> None:
        """Uncount ``n`` files taken by :meth:`take` whose upload then failed (nothing was kept)."""
        n = max(0, int(n))
        with self._lock:
            self._server = max(0, self._server - n)
            if session_id in self._sessions:
                self._sessions[session_id] = max(0, self._sessions[session_id] - n)


def zip_image_count(data: bytes, where: str = "the zip") -> int:
    """How many entries of the zip ``data`` are image files (by suffix, anywhere in the archive): what the upload
    brings into the workspace. Reads only the central directory.

    Raises:
        InputError: not a zip, or more than ``workspace.MAX_ZIP_FILES`` entries.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InputError(f"{where} is not a valid zip file") from None
    if len(infos) > MAX_ZIP_FILES:
        raise InputError(f"{where}: {len(infos)} entries, more than the cap of {MAX_ZIP_FILES}")
    return sum(1 for i in infos if not i.is_dir() and PurePosixPath(i.filename).suffix.lower() in IMAGE_SUFFIXES)


__all__ = ["MAX_TRACKED_SESSIONS", "UploadCounts", "zip_image_count"]
