"""``train-many`` on Ray, end to end, on a local Ray instance (2 CPUs) started by the test.

Two groups; each group's task is killed (``os._exit``) on its first attempt: one after its first
scale was saved (the retry must resume, not restart), one after its models were completely saved
(the retry must train nothing). Results must equal an uninterrupted local run.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from singanseg_core.training.config import TrainConfig
from singanseg_core.files.pairs import find_pairs
from singanseg_core.training.executors import RayExecutor
from singanseg_core.training.groups import GroupTask, run_group
from singanseg_core.training.many import train_many
from singanseg_core.model import is_finished_checkpoint

from tests.helpers import POLYPS, needs_shared

pytestmark = [needs_shared, pytest.mark.slow]  # ray starts a local cluster first
ray = pytest.importorskip("ray")  # the optional extra `.[ray]`: installed by requirements-test.txt, so CI runs this

ROOT = Path(__file__).resolve().parents[2]
CFG = TrainConfig.from_preset("tiny", max_size=32, niter=2, nfc=8, max_nfc=8, seed=11)


def crash_once(task: GroupTask) -> dict:
    """Ray task body: log the checkpoint states it starts from, and die on the first attempt.

    Group 0 dies right after its first scale is saved, group 1 after its last one.
    """
    out = Path(task.jobs[0].out_dir).parent
    marker = out / f".attempted-{task.index}"
    states = {}
    for job in task.jobs:
        cfg = Path(job.out_dir) / "config.json"
        states[job.stem] = json.loads(cfg.read_text())["num_trained"] if cfg.exists() else 0
    with open(out / ".attempts.jsonl", "a") as fh:
        fh.write(json.dumps({"group": task.index, "first": not marker.exists(), "states": states}) + "\n")
    if marker.exists():
        return asdict(run_group(task))
    marker.touch()
    torch.set_num_threads(1)

    def die(ev):
        # every model of the group is saved before the group's scale_done events go out
        if ev.kind == "scale_done" and (task.index == 0 or ev.scale == ev.num_scales - 1):
            os._exit(1)
        return True

    return asdict(run_group(task, die))


@pytest.fixture(scope="module")
def local_ray():
    paths = os.pathsep.join([str(ROOT), str(Path(__file__).parent)])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": paths, "OMP_NUM_THREADS": "1"}})
    yield
    ray.shutdown()


def _dataset(root: Path) -> tuple[Path, list[str]]:
    """Four pairs that make two groups of two at 32 px (same pyramid)."""
    from singanseg_core.training.fit import pyramid_key
    from singanseg_core.files.pairs import load_pair
    from singanseg_core.pyramid.schedule import compute_schedule

    chosen, key = [], None
    for stem, img, msk in find_pairs(POLYPS):
        pair = load_pair(img, msk, name=stem)
        k = pyramid_key(compute_schedule(*pair.size, CFG.min_size, CFG.max_size, CFG.scale_factor))
        if key is None or k == key:
            key = k
            chosen.append((stem, img, msk))
        if len(chosen) == 4:
            break
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for stem, img, msk in chosen:
        (root / "images" / img.name).symlink_to(img)
        (root / "masks" / msk.name).symlink_to(msk)
    return root, [c[0] for c in chosen]


def test_ray_train_many_retries_killed_tasks_without_losing_models(tmp_path, local_ray):
    data, stems = _dataset(tmp_path / "data")
    out = tmp_path / "ray_out"
    events = []
    executor = RayExecutor(task_fn=crash_once, max_retries=2, poll_seconds=0.5)
    summary = train_many(data, out, CFG, parallel=2, executor=executor, device="cpu", progress=events.append)

    assert sorted(summary.trained) == sorted(stems) and not summary.failed, summary.describe()
    assert [len(g) for g in summary.groups] == [2, 2]
    assert all(is_finished_checkpoint(out / s) for s in stems)
    assert {e.stem for e in events if e.kind == "finished"} == set(stems)
    assert {e.stem for e in events if e.kind == "scale_done"} == set(stems)

    attempts = [json.loads(line) for line in (out / ".attempts.jsonl").read_text().splitlines()]
    by_group = {g: [a for a in attempts if a["group"] == g] for g in (0, 1)}
    for g, runs in by_group.items():
        assert [a["first"] for a in runs] == [True, False], runs  # killed once, retried once
        assert set(runs[0]["states"].values()) == {0}
    total = json.loads((out / stems[0] / "config.json").read_text())["total_scales"]
    assert set(by_group[0][1]["states"].values()) == {1}        # resumed after scale 0
    assert set(by_group[1][1]["states"].values()) == {total}    # finished: nothing retrained

    # the same models as an uninterrupted local run
    torch.set_num_threads(1)
    local = train_many(data, tmp_path / "local_out", CFG, parallel=2, device="cpu")
    assert sorted(local.trained) == sorted(stems)
    for stem in stems:
        a = load_file(str(out / stem / "model.safetensors"))
        b = load_file(str(tmp_path / "local_out" / stem / "model.safetensors"))
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=f"{stem}:{key}")

    # a second Ray run trains nothing
    again = train_many(data, out, CFG, parallel=2, executor=RayExecutor(), device="cpu")
    assert sorted(again.skipped) == sorted(stems) and not again.trained


def test_ray_task_failing_for_good_reports_the_models(tmp_path, local_ray):
    data, stems = _dataset(tmp_path / "data")
    summary = train_many(data, tmp_path / "out", CFG, parallel=4, device="cpu",
                         executor=RayExecutor(task_fn=always_dies, max_retries=1, poll_seconds=0.5))
    assert not summary.trained
    assert sorted(summary.failed) == sorted(stems)
    assert all("Ray task failed" in why for why in summary.failed.values())


def always_dies(task: GroupTask) -> dict:
    os._exit(3)
