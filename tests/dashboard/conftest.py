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
