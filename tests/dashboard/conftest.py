"""Fixtures of the dashboard's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from singanseg_core.services import jobs


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Job folders whose worker would have been started."""
    started: list[Path] = []
    monkeypatch.setattr(jobs, "_spawn", lambda ws, job_dir: started.append(job_dir))
    return started


@pytest.fixture(autouse=True)
def fresh_server_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Process-wide server state starts afresh in every dashboard test: the passphrase guess count, the upload
    counts and the unlocked sessions (AppTest gives every session the same id)."""
    import ui.access
    import ui.server_guard
    from singanseg_core.services import access
    from singanseg_core.services.uploads_quota import UploadCounts

    monkeypatch.setattr(access, "_GATES", {})
    monkeypatch.setattr(ui.access, "ADDED", UploadCounts())
    monkeypatch.setattr(ui.server_guard, "RECEIVED", UploadCounts())
    monkeypatch.setattr(ui.server_guard, "_UNLOCKED", set())
