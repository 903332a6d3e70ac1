"""Cancel stops a job that never reaches its next progress callback, and the queue behind it moves on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from singanseg_core.services import jobs
from singanseg_core.services.workspace import Workspace
from testkit.hostile import STUCK_WORKER
from tests.services.job_waiting import wait

ROOT = Path(__file__).resolve().parents[2]



@pytest.mark.slow
def test_cancel_terminates_a_stuck_job_and_the_queue_moves_on(demo_ws: Workspace,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MAX_JOBS", "1")
    stuck = jobs.submit(demo_ws, "import-legacy", {"src": "legacy"}, start=False)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SINGANSEG_WORKSPACE=str(demo_ws.root))
    worker = subprocess.Popen([sys.executable, "-c", STUCK_WORKER, str(stuck.dir)], start_new_session=True, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(demo_ws, stuck.id, ("running",))
        ck = demo_ws.list_checkpoints()[0]
        behind = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 1, "out": "behind"})
        job = jobs.cancel(demo_ws, stuck.id, terminate_after=1.0)   # as the dashboard does: returns at once
        assert job.active
        job = wait(demo_ws, stuck.id, ("cancelled", "done", "failed"), timeout=120)
        assert job.state == "cancelled" and "terminated" in job.message, job.message
        assert worker.wait(timeout=60) < 0            # killed by a signal (SIGKILL: SIGTERM was blocked)
        assert "terminated after cancel" in (stuck.dir / "log.txt").read_text()
        behind = wait(demo_ws, behind.id, ("done", "failed"), timeout=240)
        assert behind.state == "done", behind.message
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
