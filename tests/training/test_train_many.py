"""``train_many`` / ``singanseg train-many`` with the local executor on real polyp pairs (tiny settings)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from singanseg_core.cli.main import main
from singanseg_core.training.config import TrainConfig
from singanseg_core.files.pairs import find_pairs
from singanseg_core.errors import Cancelled, InputError
from singanseg_core.model import SinGANSeg
from singanseg_core.training.executors import LocalExecutor
from singanseg_core.training.groups import make_groups
from singanseg_core.training.many import model_seed, plan_jobs, train_many
from singanseg_core.model import is_finished_checkpoint

from tests.helpers import POLYPS, needs_shared
CFG = TrainConfig.from_preset("tiny", max_size=32, niter=2, nfc=8, max_nfc=8, seed=7)


pytestmark = [pytest.mark.usefixtures("one_torch_thread"), needs_shared]


def _dataset(root: Path, n: int, skip: int = 0) -> Path:
    """A Kvasir-SEG folder of ``n`` real pairs (symlinks into the shared data)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for stem, img, msk in find_pairs(POLYPS)[skip:skip + n]:
        (root / "images" / img.name).symlink_to(img)
        (root / "masks" / msk.name).symlink_to(msk)
    return root


def test_train_many_groups_events_and_checkpoints(tmp_path):
    data = _dataset(tmp_path / "data", 5)
    events: dict[str, list] = defaultdict(list)

    summary = train_many(data, tmp_path / "out", CFG, parallel=3, device="cpu",
                         progress=lambda ev: events[ev.stem].append(ev))

    stems = [s for s, _, _ in find_pairs(data)]
    assert sorted(summary.trained) == stems and not summary.failed and not summary.skipped
    assert all(len(g) <= 3 for g in summary.groups) and sum(map(len, summary.groups)) == 5
    assert any(len(g) > 1 for g in summary.groups)  # some images do share a pyramid at 32 px
    for stem in stems:
        folder = tmp_path / "out" / stem
        assert is_finished_checkpoint(folder)
        cfg = json.loads((folder / "config.json").read_text())
        assert cfg["train"]["config"]["seed"] == model_seed(CFG.seed, stem)
        assert cfg["train"]["batched_k"] == next(len(g) for g in summary.groups if stem in g)
        kinds = Counter(ev.kind for ev in events[stem])
        assert kinds["started"] == 1 and kinds["finished"] == 1
        assert kinds["scale_done"] == cfg["total_scales"]
        assert kinds["iteration"] == cfg["total_scales"] * 2  # log at it 1 and at the last (2)
        assert events[stem][-1].fraction == 1.0
        model = SinGANSeg.from_pretrained(folder)
        assert model.sample(1, seed=0).images.shape[1:3] == tuple(cfg["sizes"][-1])

    # a second run trains nothing and touches nothing
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    again = train_many(data, tmp_path / "out", CFG, parallel=3, device="cpu")
    assert sorted(again.skipped) == stems and not again.trained and not again.groups
    assert mtimes == {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}


def test_model_seed_depends_on_seed_and_stem_only():
    assert model_seed(0, "a") == model_seed(0, "a")
    assert len({model_seed(0, "a"), model_seed(1, "a"), model_seed(0, "b")}) == 3
    assert 0 <= model_seed(123, "cju13cgqmnhwn0988yrainhcp") < 2**31


def test_cancel_then_resume_and_group_by_progress(tmp_path):
    data = _dataset(tmp_path / "data", 3)
    out = tmp_path / "out"

    def cancel_at_first_scale(ev):
        return ev.kind != "scale_done"

    with pytest.raises(Cancelled):
        train_many(data, out, CFG, parallel=1, device="cpu", progress=cancel_at_first_scale)
    partial = [p for p in out.iterdir() if (p / "config.json").exists()]
    assert len(partial) == 1 and not is_finished_checkpoint(partial[0])

    jobs, skipped, failed = plan_jobs(data, out, CFG)
    assert not skipped and not failed
    starts = {j.stem: j.start_scale for j in jobs}
    assert starts[partial[0].name] == 1 and sum(starts.values()) == 1
    # a partial model is never grouped with fresh ones (the group trains in lockstep)
    for group in make_groups(jobs, 8):
        assert len({j.start_scale for j in group}) == 1

    summary = train_many(data, out, CFG, parallel=8, device="cpu")
    assert sorted(summary.trained) == sorted(starts) and not summary.failed
    assert all(is_finished_checkpoint(out / s) for s in starts)


def test_bad_pairs_and_mismatched_partials_fail_with_reasons(tmp_path):
    data = _dataset(tmp_path / "data", 2)
    stem0, stem1 = [s for s, _, _ in find_pairs(data)]
    # a mask of the wrong size
    (data / "masks" / f"{stem1}.png").unlink()
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(data / "masks" / f"{stem1}.png")
    # a partial checkpoint for stem0 made with other settings
    other = TrainConfig.from_preset("tiny", max_size=32, niter=1, nfc=8, max_nfc=8, seed=model_seed(CFG.seed, stem0))

    def stop_after_scale0(ev):
        return not ev.scale_done

    from singanseg_core.training import TrainItem as BatchItem, train_group as train_batched
    from singanseg_core.files.pairs import load_pair
    pair0 = load_pair(data / "images" / f"{stem0}.jpg", data / "masks" / f"{stem0}.png", name=stem0)
    with pytest.raises(Cancelled):
        train_batched([BatchItem(pair0, tmp_path / "out" / stem0, other)], device="cpu", progress=stop_after_scale0)

    summary = train_many(data, tmp_path / "out", CFG, device="cpu")
    assert not summary.trained
    assert "mask is 10x10 px" in summary.failed[stem1]
    assert "other settings" in summary.failed[stem0] and "--overwrite" in summary.failed[stem0]

    summary = train_many(data, tmp_path / "out", CFG, device="cpu", overwrite=True)
    assert summary.trained == [stem0] and stem1 in summary.failed
    assert json.loads((tmp_path / "out" / stem0 / "config.json").read_text())["train"]["config"]["niter"] == 2


def test_parallel_auto_uses_free_memory(tmp_path):
    data = _dataset(tmp_path / "data", 4)

    class Tight(LocalExecutor):
        def free_memory(self, device):
            from singanseg_core.training.memory import estimate_model_bytes
            from singanseg_core.pyramid.schedule import compute_schedule
            sched = compute_schedule(530, 622, CFG.min_size, CFG.max_size, CFG.scale_factor)
            return int(2.5 * estimate_model_bytes(CFG, sched.sizes) / 0.7)  # room for 2 models

    summary = train_many(data, tmp_path / "out", replace(CFG, niter=1), parallel="auto", executor=Tight(), device="cpu")
    assert len(summary.trained) == 4
    assert max(map(len, summary.groups)) == 2

    with pytest.raises(InputError, match="--parallel"):
        train_many(data, tmp_path / "o2", CFG, parallel=0, device="cpu")


def test_cli_train_many(tmp_path, capsys):
    data = _dataset(tmp_path / "data", 2, skip=5)
    args = ["train-many", "--data", str(data), "--out", str(tmp_path / "out"), "--preset", "tiny",
            "--max-size", "32", "--iters", "1", "--seed", "1", "--device", "cpu", "--parallel", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "trained 2, skipped 0" in out
    assert main(args) == 0
    assert "trained 0, skipped 2" in capsys.readouterr().out
    shutil.rmtree(tmp_path / "out" / find_pairs(data)[0][0])
    assert main(args[:-2] + ["--parallel", "auto"]) == 0
    assert "trained 1, skipped 1" in capsys.readouterr().out
    assert main(args[:-2] + ["--parallel", "zero"]) == 1
    assert "--parallel" in capsys.readouterr().err


def test_train_pairs_named_entries_for_the_dashboard(tmp_path):
    from singanseg_core.training.many import train_pairs

    (stem, img, msk), = find_pairs(POLYPS)[:1]
    entries = [("first", img, msk, tmp_path / "ckpt" / "first"), ("second", img, msk, tmp_path / "ckpt" / "second")]
    events = []
    summary = train_pairs(entries, replace(CFG, niter=1), parallel="2", device="cpu", derive_seeds=False,
                          progress=events.append)
    assert sorted(summary.trained) == ["first", "second"] and summary.groups == [["first", "second"]]
    for name in ("first", "second"):
        cfg = json.loads((tmp_path / "ckpt" / name / "config.json").read_text())
        assert cfg["name"] == name and cfg["train"]["config"]["seed"] == CFG.seed
    # same image, same seed, one group: the two models are the same model
    a = SinGANSeg.from_pretrained(tmp_path / "ckpt" / "first").reconstruct()
    b = SinGANSeg.from_pretrained(tmp_path / "ckpt" / "second").reconstruct()
    assert torch.equal(a, b)
    assert {e.stem for e in events if e.kind == "finished"} == {"first", "second"}
    with pytest.raises(InputError, match="unique"):
        train_pairs(entries[:1] * 2, CFG, device="cpu")
