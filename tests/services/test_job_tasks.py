"""One ``JobTask`` per job kind: what it reads, writes and which access action it needs, in one place."""

from __future__ import annotations

import pytest

import subprocess
import sys
from pathlib import Path

from singanseg_core.services import access, catalog, job_tasks

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_job_tasks_does_not_import_the_job_machinery() -> None:
    code = ("import sys, singanseg_core.services.job_tasks; "
            "sys.exit(1 if 'singanseg_core.services.jobs' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_every_job_kind_needs_a_write_action() -> None:
    for kind, task in job_tasks.TASKS.items():
        assert task.action in access.WRITE_ACTIONS, kind
        assert job_tasks.action_for(kind) == task.action
    assert job_tasks.action_for("sample") == "sample-save"  # saving samples, not browsing them


class _Job:
    def __init__(self, kind: str, args: dict, result: dict | None = None) -> None:
        self.kind, self.args, self.status = kind, args, {"result": result or {}}


def test_catalog_asks_the_task_what_a_job_uses() -> None:
    train = _Job("train", {"dataset": "d", "stems": ["a", "b"], "names": {"a": "a-2"}})
    assert [r.path for r in catalog.job_targets(train)["reads"]] == ["datasets/d"]
    assert [r.path for r in catalog.job_targets(train)["writes"]] == ["checkpoints/a-2", "checkpoints/b"]
    legacy = _Job("import-legacy", {"src": "legacy/x"}, {"imported": ["m1", "../bad"]})
    assert [r.path for r in catalog.job_targets(legacy)["writes"]] == ["checkpoints/m1"]  # unsafe names skipped
    assert not job_tasks.TASKS["import-legacy"].reserves
    assert catalog.job_targets(_Job("no-such-kind", {}))["writes"] == []
