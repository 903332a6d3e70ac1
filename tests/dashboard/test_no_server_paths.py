"""No server path in classroom mode: Home's VGG19 line (the torch cache), the checkpoint settings table (an old
import's absolute ``source.legacy_path``) and failed job messages show paths relative to the workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from singanseg_core.services import jobs
from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import ok, page

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _text(at) -> str:  # noqa: ANN001
    shown = [e.value for kind in ("caption", "markdown", "info", "success", "warning", "error") for e in at.get(kind)]
    shown += [df.value.to_string() for df in at.dataframe]
    shown += [p.proto.text for p in at.get("progress")] if at.get("progress") else []
    return "\n".join(shown)


@pytest.fixture
def classroom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")


def test_home_does_not_show_the_torch_cache(demo_ws: Workspace, classroom: None) -> None:
    from torch.hub import get_dir

    text = _text(ok(page("app.py").run()))
    assert "VGG19" in text
    assert str(Path(get_dir()).parent) not in text and str(Path.home()) not in text


def test_settings_table_shows_no_legacy_server_path(demo_ws: Workspace, classroom: None) -> None:
    name = demo_ws.list_checkpoints(finished_only=True)[0]
    cfg_path = demo_ws.checkpoints / name / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.setdefault("source", {})["legacy_path"] = "/srv/secret/TrainedModels_1_clean/alpha=10"  # an old import
    cfg_path.write_text(json.dumps(cfg))
    at = ok(page("pages/Checkpoints.py").run())
    text = _text(at)
    assert "source.legacy_path" in text and "/srv/secret" not in text and "<outside the workspace>" in text


def test_failed_job_messages_show_no_server_path(demo_ws: Workspace, classroom: None,
                                                 spawned: list[Path]) -> None:
    from torch.hub import get_dir

    job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [], "preset": "tiny"}, title="t")
    message = f"FileNotFoundError: {demo_ws.root}/datasets/x.png and {get_dir()}/checkpoints/vgg19.pth"
    jobs._write_status(job.dir, {**job.status, "state": "failed", "message": message})
    text = _text(ok(page("pages/Checkpoints.py").run()))
    assert "workspace/datasets/x.png" in text and "<torch cache>" in text
    assert str(demo_ws.root) not in text and str(Path(get_dir()).parent) not in text
