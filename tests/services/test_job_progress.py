"""What a person reads about a running job never contradicts itself: study progress ("run k of n, epoch e/E" and
the percentage from one source), results that appear run by run, and no "iteration 0/0" for a new training."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest

from singanseg_core.segmentation.model import SegProgress
from singanseg_core.services import catalog, jobs
from singanseg_core.services.workspace import Workspace
from singanseg_core.studies.run import StudyProgress


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every status a job records (in memory, before the throttled write), in order; workers run in-process."""
    seen: list[dict] = []
    original = jobs.JobContext.update

    def update(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        out = original(self, *args, **kwargs)
        seen.append({"progress": self.status.get("progress"), "message": self.status.get("message"),
                     "items": {k: dict(v) for k, v in (self.status.get("items") or {}).items()}})
        return out

    monkeypatch.setattr(jobs.JobContext, "update", update)
    monkeypatch.setattr(jobs, "_spawn", lambda ws, job_dir: None)
    return seen


def test_progress_fractions() -> None:
    assert SegProgress("train", 1, 4, 1, 2).fraction == pytest.approx(0.125)
    assert SegProgress("val", 4, 4, 2, 2).fraction == 1.0 and SegProgress("done", 2, 4).fraction == 1.0
    ev = StudyProgress("train", "", 2, 6, "r", None, SegProgress("train", 3, 4, 1, 1))
    assert ev.fraction == pytest.approx((2 + 0.75) / 6) and ev.run_label == "run 3 of 6"
    assert StudyProgress("model", "", 2, 6, None, "s", SimpleNamespace(fraction=0.9)).fraction == pytest.approx(2 / 6)


def test_study_progress_and_results_agree_run_by_run(demo_ws: Workspace, recorded: list[dict],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.segmentation import METRIC_NAMES
    from singanseg_core.studies import load_study
    from singanseg_core.studies import run as run_mod

    study_dir = demo_ws.studies / "progress"
    finished_before: list[int] = []

    def fake_train(train, val, seg, out_dir=None, progress=None):  # noqa: ANN001, ANN202 - UNet++ without torch
        finished_before.append(len(load_study(study_dir).table))  # what the Results section reads meanwhile
        for epoch in (1, 2):
            for batch in (1, 2):
                progress(SegProgress("train", epoch, 2, batch, 2, 0.5))
            progress(SegProgress("val", epoch, 2, 2, 2, 0.5, {m: 0.5 for m in METRIC_NAMES}))
        return SimpleNamespace(model=SimpleNamespace(info={}), metrics={m: 0.5 for m in METRIC_NAMES},
                               best_epoch=2, history=pd.DataFrame({"epoch": [1, 2]}), seconds=0.01)

    monkeypatch.setattr(run_mod, "train_segmentation", fake_train)
    monkeypatch.setattr(run_mod._Study, "synthetic_pairs", lambda self, run: [self.pairs[s] for s in run.train_stems])
    job = jobs.submit(demo_ws, "study", {"name": "progress", "kind": "small-data", "preset": "demo",
                                         "dataset": "demo-ihc", "overrides": {"r_values": [1, 2]}}, title="study")
    assert jobs.run_job(job.dir) == 0
    n_runs = len(load_study(study_dir).table)
    assert n_runs == 6 and finished_before == list(range(n_runs))  # results appear run by run

    epochs = [s for s in recorded if "epoch" in (s["message"] or "")]
    assert len(epochs) == 6 * 2 * 3
    for s in epochs:
        k, n, e, total = map(int, re.search(r"run (\d+) of (\d+) .*epoch (\d+)/(\d+)", s["message"]).groups())
        assert n == n_runs
        # the percentage lies within the epoch the message names, of the run it names
        assert (k - 1 + (e - 1) / total) / n - 1e-3 <= s["progress"] <= (k - 1 + e / total) / n + 1e-3, s
        run_id = s["message"].split("(")[1].split(")")[0]
        item = s["items"][run_id]
        assert catalog.item_state(item) == "running" and 0 < item["progress"] <= 1
    assert recorded[-1]["progress"] == 1.0 or jobs.get_job(demo_ws, job.id).progress == 1.0


@pytest.mark.slow
def test_a_new_training_job_never_shows_iteration_0_of_0(demo_ws: Workspace, recorded: list[dict],
                                                         one_torch_thread) -> None:  # noqa: ANN001
    stem = demo_ws.dataset_pairs("demo-ihc")[0][0]
    job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [stem], "names": {stem: "fresh"},
                                         "preset": "tiny", "overrides": {"max_size": 32, "niter": 10}}, title="t")
    assert jobs.run_job(job.dir) == 0, jobs.get_job(demo_ws, job.id).message
    messages = [s["message"] for s in recorded]
    assert not [m for m in messages if "0/0" in m], messages
    first = next(m for m in messages if "iteration" in m)
    assert re.fullmatch(r"fresh: scale 1/\d+, iteration 0/10", first), first
    assert (demo_ws.checkpoints / "fresh" / "model.safetensors").is_file()
