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


# ------------------------------------------------------------------------------------------- warm start in a job
class _Ctx:
    def __init__(self, ws, args: dict) -> None:  # noqa: ANN001
        self.ws, self.args, self.lines = ws, args, []

    def update(self, *a, **k) -> bool:  # noqa: ANN002, ANN003
        return True

    def log(self, text: str) -> None:
        self.lines.append(text)


def _train_args(**over) -> dict:  # noqa: ANN003
    return {"dataset": "demo-ihc", "stems": ["ihc_r128_c384"], "names": {"ihc_r128_c384": "warm"}, "fresh": False,
            "preset": "quick", "overrides": {"max_size": 64, "niter": 1, "seed": 3}, **over}


def test_a_training_job_warm_starts_from_a_workspace_checkpoint_named_not_pathed(demo_ws, one_torch_thread) -> None:  # noqa: ANN001
    """The dashboard's warm start: the job names a finished workspace checkpoint (``prior``); the model starts
    from it and records it (``train.init_from``: its folder and weights hash)."""
    import json

    a = job_tasks.validate(demo_ws, "train", _train_args(prior="ihc_r128_c384"))
    assert a["prior"] == "ihc_r128_c384"
    job_tasks.TASKS["train"].run(_Ctx(demo_ws, a))
    train = json.loads((demo_ws.checkpoints / "warm" / "config.json").read_text())["train"]
    recorded = train["init_from"] if "init_from" in train else train["config"]["init_from"]
    assert "ihc_r128_c384" in json.dumps(recorded)


@pytest.mark.parametrize("prior, says", [
    ("../../etc", "warm-start checkpoint"), ("nope", "no finished checkpoint 'nope'"), (5, "must be the name"),
])
def test_a_bad_warm_start_is_refused_in_one_line(demo_ws, prior, says) -> None:  # noqa: ANN001
    with pytest.raises(job_tasks.InputError, match=says):
        job_tasks.validate(demo_ws, "train", _train_args(prior=prior))


def test_a_warm_start_of_another_kind_is_refused_naming_the_checkpoint_not_its_path(demo_ws) -> None:  # noqa: ANN001
    with pytest.raises(job_tasks.InputError) as err:
        job_tasks.validate(demo_ws, "train", _train_args(prior="ihc_r128_c384",
                                                        overrides={"max_size": 64, "niter": 1, "num_layer": 4}))
    assert "checkpoints/ihc_r128_c384 is of another kind" in str(err.value)
    assert str(demo_ws.root) not in str(err.value)
    with pytest.raises(job_tasks.InputError, match="by checkpoint"):  # a path any visitor could type: never
        job_tasks.validate(demo_ws, "train", _train_args(overrides={"init_from": "/tmp/x"}))
