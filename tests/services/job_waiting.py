"""Waiting for a background job in the job tests (polls the job's folder; never sleeps a fixed time)."""

from __future__ import annotations

import time

from singanseg_core.services import jobs
from singanseg_core.services.workspace import Workspace


def wait(ws: Workspace, job_id: str, states: tuple[str, ...], timeout: float = 120.0) -> jobs.Job:
    """The job once it is in one of ``states``; AssertionError with its log tail after ``timeout`` seconds."""
    end = time.time() + timeout
    while time.time() < end:
        job = jobs.get_job(ws, job_id)
        if job.state in states:
            return job
        time.sleep(0.3)
    job = jobs.get_job(ws, job_id)
    raise AssertionError(f"job {job_id} is {job.state} ({job.message}) after {timeout}s; log:\n{job.log_tail(30)}")
