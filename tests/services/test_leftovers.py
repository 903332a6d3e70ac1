"""What killed writers leave (hidden .partial-* folders, empty reserved folders) is removed at the next start,
never what a live process or an active job still holds, and never listed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from singanseg_core.services import catalog
from singanseg_core.services.workspace import STALE_RESERVED_S, Workspace


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_killed_writers_are_cleaned_at_the_next_open(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(tmp_path / "ws")
    dead = ws.checkpoints / f".img1.partial-{_dead_pid()}-0000abcd"
    alive = ws.samples / f".set.partial-{os.getpid()}-0000abcd"
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "half.png").write_bytes(b"x")
    old_empty, fresh_empty, used_empty = (ws.reserve_dir(ws.samples, n) for n in ("killed", "just-now", "queued"))
    queued = SimpleNamespace(kind="sample", args={"checkpoints": [], "out": "queued"}, status={})
    monkeypatch.setattr(catalog, "active_jobs", lambda ws: [queued])  # a queued job will write samples/queued
    past = time.time() - STALE_RESERVED_S - 60
    for folder in (old_empty, used_empty):
        os.utime(folder, (past, past))
    names = catalog.item_names(ws, "samples")
    assert not any(".partial-" in n for n in names)
    removed = ws.clean_leftovers()
    assert not dead.exists() and alive.exists() and fresh_empty.exists()
    assert not old_empty.exists() and "samples/killed" in removed and used_empty.exists()
    assert f"checkpoints/{dead.name}" in removed


@pytest.mark.slow
def test_opening_a_workspace_cleans_once(tmp_path: Path) -> None:
    root = tmp_path / "ws2"
    Workspace(root)
    dead = root / "style" / f".x.partial-{_dead_pid()}-0000abcd"
    dead.mkdir()
    Workspace(root)  # this process already cleaned this workspace: a new process would
    assert dead.exists()
    subprocess.run([sys.executable, "-c", f"from singanseg_core.services.workspace import Workspace; "
                                          f"Workspace({str(root)!r})"], check=True,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert not dead.exists()
