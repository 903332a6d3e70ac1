"""Background jobs: detached workers, progress on disk, cancel, interruption and resume, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from singanseg_core.services import jobs
from singanseg_core.errors import InputError
from singanseg_core.services.workspace import Workspace
from tests.helpers import needs_shared
from tests.services.job_waiting import wait

TINY = {"preset": "tiny", "device": "cpu", "overrides": {"max_size": 28, "niter": 4}}


@pytest.mark.slow
def test_sample_job_writes_manifest(demo_ws: Workspace) -> None:
    ck = demo_ws.list_checkpoints()[0]
    job = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 5, "seed": 3, "out": "from-job"}, title="t")
    assert (job.dir / "spec.json").is_file() and job.state in ("queued", "running")
    job = wait(demo_ws, job.id, ("done", "failed"))
    assert job.state == "done", job.message
    assert job.progress == 1.0 and job.items[ck]["state"] == "done"
    frame = pd.read_csv(demo_ws.samples / "from-job" / "manifest.csv")
    assert len(frame) == 5 and set(frame["checkpoint"]) == {ck}
    assert [j.id for j in jobs.list_jobs(demo_ws, kind="sample")] == [job.id]


def test_failed_job_has_one_line_message(demo_ws: Workspace) -> None:
    """A job whose input disappears after it was queued fails with one line (never a traceback)."""
    import shutil

    from singanseg_core.services.demo import DEMO_CHECKPOINTS

    name = DEMO_CHECKPOINTS[0]
    job = jobs.submit(demo_ws, "sample", {"checkpoints": [name], "n": 1, "out": "x"}, start=False)
    shutil.rmtree(demo_ws.checkpoints / name)
    assert jobs.run_job(job.dir) == 1
    job = jobs.get_job(demo_ws, job.id)
    assert job.state == "failed"
    assert name in job.message and "\n" not in job.message


@pytest.mark.parametrize("kind, args, words", [
    ("no-such-kind", {}, "unknown job kind"),
    ("sample", {"checkpoints": ["does-not-exist"], "n": 1, "out": "x"}, "not in the workspace"),
    ("sample", {"checkpoints": ["ihc_r256_c256"], "n": -5, "out": "x"}, "n must be an integer in 1.."),
    ("sample", {"checkpoints": ["ihc_r256_c256"], "n": 2, "out": "../x"}, "plain name"),
    ("sample", {"checkpoints": ["ihc_r256_c256"], "n": 2, "scale_h": 0, "out": "x"}, "scale_h"),
    ("train", {"dataset": "demo-ihc", "preset": "quick", "overrides": {"niter": 0}}, "niter must be"),
    ("train", {"dataset": "demo-ihc", "stems": ["nope"]}, "no pair(s) nope"),
    ("train", {"dataset": "../datasets/demo-ihc"}, "plain name"),
    ("train", {"dataset": "demo-ihc", "device": "bogus"}, "bogus"),
    ("style-batch", {"samples": "demo-samples", "out": "s", "steps": 0}, "steps must be"),
    ("style-batch", {"samples": "demo-samples", "out": "s", "ratio": "a:b"}, "ratio"),
    ("study", {"name": "s", "dataset": "demo-ihc", "kind": "nope"}, "unknown study kind"),
    ("import-legacy", {"src": "../../etc"}, "'..' is not allowed"),
])
def test_submit_validates_before_queueing(demo_ws: Workspace, kind: str, args: dict, words: str) -> None:
    before = set(demo_ws.jobs.iterdir())
    with pytest.raises(InputError) as err:
        jobs.submit(demo_ws, kind, args, start=False)
    assert words in str(err.value)
    assert set(demo_ws.jobs.iterdir()) == before  # nothing was queued


@pytest.mark.slow
def test_train_cancel_then_resume(demo_ws: Workspace) -> None:
    stems = [s for s, _, _ in demo_ws.dataset_pairs("demo-ihc")][:2]
    args = {"dataset": "demo-ihc", "stems": stems, "names": {s: f"t-{s}" for s in stems}, **TINY}
    job = jobs.submit(demo_ws, "train", args, title="train two")
    wait(demo_ws, job.id, ("running",))
    jobs.cancel(demo_ws, job.id)
    job = wait(demo_ws, job.id, ("cancelled", "done"))
    assert job.state == "cancelled", job.message
    job = jobs.resume(demo_ws, job.id)
    job = wait(demo_ws, job.id, ("done", "failed"))
    assert job.state == "done", job.message
    from singanseg_core.model import is_finished_checkpoint

    for s in stems:
        assert is_finished_checkpoint(demo_ws.checkpoints / f"t-{s}")
        assert job.items[f"t-{s}"]["state"] == "done"
    assert "resume requested" in (job.dir / "log.txt").read_text()


@pytest.mark.slow
def test_killed_worker_is_interrupted_and_resumes(demo_ws: Workspace) -> None:
    stem = demo_ws.dataset_pairs("demo-ihc")[0][0]
    args = {"dataset": "demo-ihc", "stems": [stem], "names": {stem: "killed"},
            "preset": "tiny", "device": "cpu", "overrides": {"max_size": 40, "niter": 40}}
    job = jobs.submit(demo_ws, "train", args)
    job = wait(demo_ws, job.id, ("running",))
    pid = job.status["pid"]
    os.killpg(pid, signal.SIGKILL)  # like a machine restart: no chance to write a final state
    job = wait(demo_ws, job.id, ("interrupted",), timeout=30)
    assert job.resumable and "resume" in job.message
    # a new "server" (fresh process state) still sees it as interrupted
    assert json.loads((job.dir / "status.json").read_text())["state"] == "running"
    job = jobs.resume(demo_ws, job.id)
    job = wait(demo_ws, job.id, ("done", "failed"))
    assert job.state == "done", job.message
    assert (demo_ws.checkpoints / "killed" / "config.json").is_file()


@pytest.mark.slow
def test_cli_list_and_cancel(demo_ws: Workspace) -> None:
    job = jobs.submit(demo_ws, "sample", {"checkpoints": [demo_ws.list_checkpoints()[0]], "n": 1, "out": "c"},
                      start=False)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, "-m", "singanseg_core", "jobs", "--workspace", str(demo_ws.root), "list"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert job.id in out and "queued" in out
    subprocess.run([sys.executable, "-m", "singanseg_core", "jobs", "--workspace", str(demo_ws.root), "cancel",
                    job.id], capture_output=True, text=True, env=env, check=True)
    job = jobs.get_job(demo_ws, job.id)
    assert (job.dir / "cancel").exists()
    # running the job now stops at once: the worker sees the cancel flag
    code = subprocess.run([sys.executable, "-m", "singanseg_core", "jobs", "run", str(job.dir)], env=env).returncode
    assert code == 0 and jobs.get_job(demo_ws, job.id).state == "cancelled"
    assert not (demo_ws.samples / "c").exists()


@pytest.mark.slow
def test_queue_runs_one_at_a_time(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    ck = demo_ws.list_checkpoints()[0]
    a = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 40, "out": "qa"})
    b = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 2, "out": "qb"})
    seen_both_running = False
    end = time.time() + 120
    while time.time() < end:
        states = {j.id: j.state for j in jobs.list_jobs(demo_ws)}
        seen_both_running |= states[a.id] == "running" and states[b.id] == "running"
        if all(s in ("done", "failed") for s in states.values()):
            break
        time.sleep(0.1)
    assert jobs.get_job(demo_ws, a.id).state == "done" and jobs.get_job(demo_ws, b.id).state == "done"
    assert not seen_both_running


@pytest.mark.slow
def test_style_batch_job_on_demo_samples(demo_ws: Workspace) -> None:
    from singanseg_core.services.demo import DEMO_SAMPLES

    frame = pd.read_csv(demo_ws.samples / DEMO_SAMPLES / "manifest.csv")
    chosen = list(frame["image"][:2])
    args = {"samples": DEMO_SAMPLES, "images": chosen, "out": "st", "ratio": "1:10", "steps": 2,
            "optimizer": "adam", "size": 32, "random_features": True}
    job = jobs.submit(demo_ws, "style-batch", args)
    job = wait(demo_ws, job.id, ("done", "failed"), timeout=240)
    assert job.state == "done", job.message
    out = pd.read_csv(demo_ws.style / "st" / "manifest.csv")
    assert len(out) == 2 and set(out["st_random_features"].astype(str)) == {"True"}
    # the style image is read from this workspace, whatever path the samples were written with
    # (stored relative to the style set: no server path in the manifest)
    assert not any(Path(p).is_absolute() for p in list(out["st_style_image"]) + list(out["checkpoint_path"]))
    assert all((demo_ws.style / "st" / p).resolve().is_relative_to(demo_ws.checkpoints) for p in out["st_style_image"])
    assert all((demo_ws.style / "st" / p / "real.png").is_file() for p in out["checkpoint_path"])
    for name in out["image"]:
        assert (demo_ws.style / "st" / name).is_file()
    from singanseg_core.services.timings import STYLE_BATCH, estimate, style_key

    est = estimate(demo_ws, STYLE_BATCH, style_key(32, "adam"), 2 * 2)  # the job timed itself: 2 images x 2 steps
    assert est is not None and est.runs == 1 and est.seconds > 0


from tests.helpers import FIXTURE_A as LEGACY_FIXTURE


@pytest.mark.slow
@needs_shared
def test_import_legacy_job(demo_ws: Workspace) -> None:
    import shutil

    assert LEGACY_FIXTURE.is_dir(), f"legacy fixture missing: {LEGACY_FIXTURE}"
    shutil.copytree(LEGACY_FIXTURE, demo_ws.legacy / "published")
    job = jobs.submit(demo_ws, "import-legacy", {"src": "legacy/published"})
    job = wait(demo_ws, job.id, ("done", "failed"))
    assert job.state == "done", job.message
    imported = job.status["result"]["imported"]
    assert imported and all((demo_ws.checkpoints / n / "config.json").is_file() for n in imported)
    with pytest.raises(InputError):  # sources outside the workspace are refused before any worker starts
        demo_ws.resolve("../outside")


def test_study_job_maps_args_and_progress(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The study handler in-process with a stand-in for ``studies.run_study`` (a real study takes minutes)."""
    from types import SimpleNamespace

    from singanseg_core import studies

    seen = {}

    def fake_run_study(config, study_dir, progress=None, overwrite=False):  # noqa: ANN001, ANN202
        seen.update(config=config, dir=Path(study_dir))
        assert progress(studies.StudyProgress("train", "R001-real: epoch 1", 0, 2, run_id="R001-real")) is True
        progress(studies.StudyProgress("run-done", "R001-real finished", 1, 2, run_id="R001-real"))
        return SimpleNamespace(table=pd.DataFrame({"run_id": ["R001-real"]}))

    monkeypatch.setattr(studies.run, "run_study", fake_run_study)
    monkeypatch.setattr(jobs, "_limit_threads", lambda: None)
    args = {"name": "s1", "kind": "small-data", "preset": "demo", "dataset": "demo-ihc",
            "overrides": {"r_values": [1, 2], "samples_per_image": 3, "seg_overrides": {"epochs": 2}}}
    job = jobs.submit(demo_ws, "study", args, start=False)
    assert jobs.run_job(job.dir) == 0
    job = jobs.get_job(demo_ws, job.id)
    assert job.state == "done" and job.status["result"]["runs"] == 1
    assert job.items["R001-real"]["state"] == "done"
    cfg = seen["config"]
    assert cfg.r_values == [1, 2] and cfg.samples_per_image == 3 and cfg.seg.epochs == 2
    assert Path(cfg.data_dir) == demo_ws.datasets / "demo-ihc" and seen["dir"] == demo_ws.studies / "s1"


@pytest.mark.slow
def test_delete_and_clear_finished_jobs_keep_results_and_active_jobs(demo_ws: Workspace) -> None:
    ck = demo_ws.list_checkpoints()[0]
    done = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 2, "out": "kept"}, title="done one")
    done = wait(demo_ws, done.id, ("done", "failed"))
    assert done.state == "done", done.message
    queued = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 1, "out": "q"}, start=False)
    with pytest.raises(InputError, match="cancel it first"):
        jobs.delete(demo_ws, queued.id)
    with pytest.raises(InputError, match="cannot clear"):
        jobs.clear_finished(demo_ws, states=("queued",))
    assert jobs.clear_finished(demo_ws) == [done.id]
    assert not done.dir.exists() and queued.dir.exists()
    assert (demo_ws.samples / "kept" / "manifest.csv").is_file()  # results stay
    # CLI: cancel the queued one, then delete it by id
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    base = [sys.executable, "-m", "singanseg_core", "jobs", "--workspace", str(demo_ws.root)]
    subprocess.run([*base, "cancel", queued.id], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "singanseg_core", "jobs", "run", str(queued.dir)], env=env, check=True)
    out = subprocess.run([*base, "clear"], env=env, capture_output=True, text=True, check=True).stdout
    assert "deleted 0 job folder(s)" in out  # cancelled is not "done"
    out = subprocess.run([*base, "delete", queued.id], env=env, capture_output=True, text=True, check=True).stdout
    assert f"{queued.id}: deleted" in out and not queued.dir.exists()
    bad = subprocess.run([*base, "delete", "nope"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_a_cancelled_job_ends_its_running_and_queued_items_as_cancelled(demo_ws: Workspace,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No item keeps saying "running · ..., about 7 min left" once the cancel took effect; finished items stay."""
    import dataclasses

    from singanseg_core.services import job_tasks

    def run(ctx: jobs.JobContext) -> dict:
        ctx.update(item="done-one", item_state="done", item_progress=1.0)
        ctx.update(item="busy", item_state="running", item_progress=0.3,
                   item_message="scale 1/7, iteration 30/200, about 7 min left", fields={"eta_s": 420.0})
        ctx.update(item="waiting", item_state="queued")
        (ctx.dir / "cancel").touch()
        ctx.check()
        return {}

    monkeypatch.setitem(job_tasks.TASKS, "train", dataclasses.replace(job_tasks.TASKS["train"], run=run))
    stem = demo_ws.dataset_pairs("demo-ihc")[0][0]
    job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [stem], **TINY}, start=False)
    jobs.run_job(job.dir)
    job = jobs.get_job(demo_ws, job.id)
    assert job.state == "cancelled"
    states = {name: item["state"] for name, item in job.items.items()}
    assert states == {"done-one": "done", "busy": "cancelled", "waiting": "cancelled"}
    assert "min left" not in job.items["busy"]["message"] and "eta_s" not in job.items["busy"]
    assert job.items["busy"]["progress"] == 0.3


def test_a_job_cancelled_before_its_worker_started_ends_its_items_too(demo_ws: Workspace) -> None:
    from singanseg_core.files.atomic import atomic_write_json

    stem = demo_ws.dataset_pairs("demo-ihc")[0][0]
    job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [stem], **TINY}, start=False)
    atomic_write_json(job.dir / "status.json", dict(job.status, items={"a": {"state": "queued", "progress": 0.0}}))
    job = jobs.cancel(demo_ws, job.id)
    assert job.state == "cancelled" and job.items["a"]["state"] == "cancelled"
