"""Stored job messages carry no server paths."""

from __future__ import annotations

from pathlib import Path

from singanseg_core.services import jobs
from singanseg_core.services.workspace import Workspace


def test_failed_job_messages_are_scrubbed(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    text = f"{ws.root}/checkpoints/a/config.json: missing; see {Path.home()}/.cache/torch/hub/checkpoints/v.pth"
    out = jobs.scrub_paths(text, ws.root)
    assert str(ws.root) not in out and str(Path.home()) not in out
    assert out.startswith("workspace/checkpoints/a/config.json: missing") and "<torch cache>" in out
