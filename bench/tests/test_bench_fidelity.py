"""The pieces of bench/bench_fidelity.py that decide its numbers: the seeded split, the empty-mask share, the
mean ± std, the variant/override parsing, the minutes → iterations rule and the report of a partial run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from testkit.shared_data import POLYPS, shared_missing
from bench.bench_fidelity import (
    Variant,
    empty_share,
    markdown,
    mean_std,
    niter_for_minutes,
    timing_from_two_runs,
    parse_overrides,
    parse_variant,
    split_pairs,
    target_rows,
    targets_markdown,
)


def test_split_is_seeded_disjoint_and_independent_of_order():
    stems = [f"p{i:03d}" for i in range(160)]
    train, val = split_pairs(stems, 5, 100, seed=0)
    assert len(train) == 5 and len(val) == 100
    assert not set(train) & set(val) and set(train) | set(val) <= set(stems)
    assert (train, val) == split_pairs(list(reversed(stems)), 5, 100, seed=0)
    other = split_pairs(stems, 5, 100, seed=1)
    assert other[0] != train
    rest_train, rest_val = split_pairs(stems, 5, None, seed=0)
    assert rest_train == train and len(rest_val) == 155 and not set(rest_train) & set(rest_val)
    with pytest.raises(ValueError, match="cannot take"):
        split_pairs(stems, 5, 156, seed=0)
    with pytest.raises(ValueError, match="unique"):
        split_pairs(["a", "a", "b"], 1, 1, seed=0)


def test_empty_share_counts_masks_without_a_true_pixel():
    assert empty_share([0.0, 0.0, 12.5, 0.01]) == 0.5
    assert empty_share([3.0, 4.0]) == 0.0
    assert math.isnan(empty_share([]))


def test_mean_std_is_the_sample_std_over_seeds():
    m, sd = mean_std([0.2, 0.3, 0.4])
    assert m == pytest.approx(0.3) and sd == pytest.approx(0.1)  # ddof 1
    assert mean_std([0.25]) == (0.25, 0.0)
    assert all(math.isnan(x) for x in mean_std([]))


def test_overrides_are_typed_by_the_train_config():
    got = parse_overrides(["niter=50", "lr_g=1e-3", "faithful_resize=false", " seed = 3 "])
    assert got == {"niter": 50, "lr_g": 1e-3, "faithful_resize": False, "seed": 3}
    assert isinstance(got["niter"], int) and isinstance(got["lr_g"], float)
    # a setting TrainConfig does not know (yet) is passed through for TrainConfig to accept or refuse by name
    assert parse_overrides(["precision=bf16", "compile=true"]) == {"precision": "bf16", "compile": True}
    for bad, words in (("niter=fast", "niter: expected a whole number"), ("faithful_resize=maybe", "true or false"),
                       ("niter", "key=value"), ("=3", "key=value")):
        with pytest.raises(ValueError, match=words):
            parse_overrides([bad])


def test_variants_and_common_settings():
    assert parse_variant("original") == Variant("original", "original")
    assert parse_variant("patchnn", {"niter": 5}) == Variant("patchnn", "patchnn")  # nothing to train
    assert parse_variant("ours", {"niter": 5}) == Variant("ours", "ours", (("niter", 5),))
    fast = parse_variant("fast:precision=bf16,niter=100", {"niter": 5, "seed": 2})
    assert fast.kind == "ours" and fast.override_dict() == {"precision": "bf16", "niter": 100, "seed": 2}
    for bad, words in (("nope", "unknown source"), ("ours:niter=3", "built-in"), ("x/y:niter=3", "name"),
                       ("fast:", "no settings")):
        with pytest.raises(ValueError, match=words):
            parse_variant(bad)


def test_unknown_setting_is_refused_by_the_train_config_by_name():
    from singanseg_core.errors import InputError
    from singanseg_core.training.config import TrainConfig

    with pytest.raises(InputError, match="no_such_setting"):
        TrainConfig.from_preset("paper", **parse_variant("v:no_such_setting=1").override_dict())


def test_minutes_to_iterations():
    assert niter_for_minutes(2.0, 5, 0.1) == 240       # 120 s / (5 scales x 0.1 s)
    assert niter_for_minutes(2.0, 5, 0.1, fixed_s=20.0) == 200
    assert niter_for_minutes(0.001, 5, 10.0) == 1      # never 0
    # 5 scales: 2 it/scale took 13 s, 8 it/scale 16 s -> 0.1 s per scale-iteration, 12 s of set-up
    per, fixed = timing_from_two_runs(2, 13.0, 8, 16.0, 5)
    assert per == pytest.approx(0.1) and fixed == pytest.approx(12.0)
    per, fixed = timing_from_two_runs(2, 16.0, 8, 15.0, 5)  # noise: the longer run was faster
    assert per == pytest.approx(15.0 / 40) and fixed == 0.0


def test_report_marks_partial_runs_and_lists_what_is_missing():
    report = {
        "settings": {"minutes": None, "max_size": 64, "niter": 150, "jobs": 2, "threads": 1, "split_seed": 0,
                     "data": "/x/polyps_study", "model_seed": 0, "k": 10, "sample_seed": 0, "encoder": "resnet18",
                     "seg_size": 64, "seg_batch": 8, "seg_steps": 600, "eval_every": 50, "seeds": [0, 1, 2]},
        "machine": {"cpus": 2, "platform": "p", "torch": "t", "load_start": (3.0, 0, 0), "load_end": (4.0, 0, 0)},
        "split": {"train": ["a"] * 5, "val_count": 100}, "real_true_pct": {"train_mean": 12.0, "val_mean": 11.0},
        "sets": [{"train_set": "real", "n_train": 5, "runs": 2, "of": 3, "iou": 0.25, "iou_std": 0.02,
                  "fscore": 0.4, "fscore_std": 0.03, "per_seed_iou": [0.23, 0.27], "best_steps": [550, 600],
                  "seconds_per_run": 300.0, "peak_rss_mb": 1500.0}],
        "sources": [{"variant": "ours", "kind": "ours", "overrides": {}, "models": 0, "of": 5}],
        "stages": {}, "partial": True, "missing": ["real seed 2"], "failed": {}, "wall_s": 10.0,
        "finished_at": "now",
    }
    md = markdown(report, "python -m bench.bench_fidelity")
    assert md.startswith("## Fidelity\n") and "**PARTIAL**" in md
    assert "| real | 5 | 2/3 | 0.250 ± 0.020 | 0.400 ± 0.030 | 0.230, 0.270 |" in md
    assert "Not finished yet (1): real seed 2" in md and "| ours | defaults | 0/5 |" in md


def test_scheduler_runs_lowest_priority_first_and_waits_for_queued_follow_ups():
    from bench.bench_fidelity import Scheduler

    sched, ran = Scheduler(1), []

    def gen(name):
        ran.append(name)
        if name == "gen-a":   # a finished generator queues its segmentation runs
            sched.push((1, 1, 0), ran.append, "seg-a-seed1")
            sched.push((1, 0, 0), ran.append, "seg-a-seed0")

    sched.push((1, 0, 5), ran.append, "real-seed0")
    sched.push((0, 1), gen, "gen-b")
    sched.push((0, 0), gen, "gen-a")
    sched.run()
    assert ran == ["gen-a", "gen-b", "seg-a-seed0", "real-seed0", "seg-a-seed1"]

    def boom():
        raise RuntimeError("worker bug")

    sched = Scheduler(2)
    sched.push((0,), boom)
    sched.push((1,), ran.append, "after")
    with pytest.raises(RuntimeError, match="worker bug"):
        sched.run()
    assert ran[-1] == "after"   # one failure does not stop the others


def test_live_writer_finds_a_running_workers_partial_folder(tmp_path):
    import os
    import subprocess
    import sys

    from bench.bench_fidelity import live_writer

    dest = tmp_path / "pair1"
    assert live_writer(dest) is None
    (tmp_path / f".pair1.partial-{os.getpid()}-abcd").mkdir()   # our own: not an earlier run's worker
    assert live_writer(dest) is None
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f".pair1.partial-{proc.pid}-ef01").mkdir()
        assert live_writer(dest) == proc.pid
        assert live_writer(tmp_path / "pair2") is None
    finally:
        proc.kill()
        proc.wait()
    assert live_writer(dest) is None   # gone: the task may run again


def _source(name, kind, s_per_model):
    return {"variant": name, "kind": kind, "overrides": {}, "models": 5, "of": 5, "train_s_per_model": s_per_model}


def _set(name, iou, sd, runs=3):
    return {"train_set": name, "runs": runs, "of": 3, "iou": iou, "iou_std": sd}


def test_targets_compare_each_engine_source_with_the_original_at_its_time():
    report = {
        "sources": [_source("ours", "ours", 90.0), _source("original", "original", 100.0),
                    _source("patchnn", "patchnn", 0.0), _source("fast", "ours", 30.0), _source("slow", "ours", 120.0)],
        "sets": [_set("real", 0.25, 0.01), _set("ours-synthetic", 0.36, 0.01), _set("original-synthetic", 0.31, 0.01),
                 _set("patchnn-synthetic", 0.30, 0.01), _set("fast-synthetic", 0.33, 0.01, runs=3),
                 _set("slow-synthetic", 0.40, 0.02)],
    }
    rows = {r["variant"]: r for r in target_rows(report)}
    assert set(rows) == {"ours", "patchnn", "fast", "slow"}          # the original is the yardstick, not a row
    assert rows["ours"]["same_time"] and not rows["ours"]["third_time"]
    assert rows["ours"]["time_vs_original"] == pytest.approx(0.9) and "speedup_vs_ours" not in rows["ours"]
    assert rows["fast"]["third_time"] and not rows["fast"]["same_time"]   # 0.33 < 0.35, but >= 0.31 in 30 %
    assert rows["fast"]["speedup_vs_ours"] == pytest.approx(3.0)
    assert rows["fast"]["within_spread"] is False                       # |0.33 - 0.36| > 0.01 + 0.01
    assert not rows["slow"]["same_time"]                                 # better, but slower than the original
    assert rows["slow"]["within_spread"] is False
    assert not rows["patchnn"]["third_time"]                             # no training, but below the original
    md = "\n".join(targets_markdown(list(rows.values())))
    assert "| fast | 30 | 0.30 | 0.330 ± 0.010 | no | **yes** | 3.00x | no |" in md
    # one seed: the spread is unknown, so no verdict on it; no original runs: no rows at all
    report["sets"][4] = _set("fast-synthetic", 0.36, 0.0, runs=1)
    assert {r["variant"]: r for r in target_rows(report)}["fast"]["within_spread"] is None
    report["sets"] = [r for r in report["sets"] if r["train_set"] != "original-synthetic"]
    assert target_rows(report) == [] and targets_markdown([]) == []


def test_the_default_run_compares_the_two_engines_and_quick_runs_every_source():
    from bench.bench_fidelity import build_parser, settings_from_args

    def names(*argv):
        return [v.name for v in settings_from_args(build_parser().parse_args(list(argv))).variants]

    assert names() == ["ours", "original"]
    assert names("--quick") == ["ours", "original", "patchnn", "guided"]
    guided = settings_from_args(build_parser().parse_args(["--sources", "guided", "--set", "niter=7"])).variants[0]
    assert guided.kind == "guided" and guided.override_dict() == {"niter": 7}  # trained by our engine
    assert names("--sources", "ours", "original", "patchnn", "--variant", "bf16:precision=bf16") == [
        "ours", "original", "patchnn", "bf16"]


def test_variant_sources_can_skip_their_mixed_runs_but_the_built_in_ones_never_do():
    from bench.bench_fidelity import build_parser, settings_from_args

    s = settings_from_args(build_parser().parse_args(["--variant", "bf16:precision=bf16", "--variant-sets",
                                                      "synthetic"]))
    assert [s.sets_of(v) for v in s.variants] == [("synthetic", "mixed"), ("synthetic", "mixed"), ("synthetic",)]
    s = settings_from_args(build_parser().parse_args(["--variant", "bf16:precision=bf16"]))
    assert s.sets_of(s.variants[-1]) == ("synthetic", "mixed")


def test_optional_settings_and_the_redraw_sampling_option_reach_their_places(tmp_path):
    """``lr_drop_at`` (an optional float, default None) parses as a number; ``redraw_empty`` is a sampling option:
    it reaches the generator task (and its cache key), not the TrainConfig."""
    from bench.bench_fidelity import SAMPLING_KEY, Bench, Settings

    assert parse_overrides(["lr_drop_at=0.8"]) == {"lr_drop_at": 0.8}
    assert parse_overrides(["lr_drop_at=none"]) == {"lr_drop_at": None}
    if shared_missing():
        pytest.skip(shared_missing())
    data = POLYPS
    bench = Bench(Settings(data=str(data), out=str(tmp_path), n_train=2, n_val=3))
    plain, redraw = Variant("v", "ours", (("niter", 7),)), Variant("v", "ours", (("niter", 7), (SAMPLING_KEY, 4)))
    assert parse_variant(f"v:niter=7,{SAMPLING_KEY}=4") == redraw
    t_plain, t_redraw = bench.gen_tasks(plain)[0], bench.gen_tasks(redraw)[0]
    assert SAMPLING_KEY not in t_plain.payload and t_redraw.payload[SAMPLING_KEY] == 4
    assert t_plain.payload["config"] == t_redraw.payload["config"] and "redraw_empty" not in t_plain.payload["config"]
    assert Path(t_plain.payload["dir"]).parent != Path(t_redraw.payload["dir"]).parent  # cached apart


def _bench(tmp_path, **kw):
    from bench.bench_fidelity import Bench, Settings

    if shared_missing():
        pytest.skip(shared_missing())
    return Bench(Settings(data=str(POLYPS), out=str(tmp_path), n_train=2, n_val=3, **kw))


def test_generator_seeds_each_train_every_source_and_pair_with_their_own_unet_seed(tmp_path):
    """``--model-seeds``: one model per source, pair and generator seed (the original's too); seed i's data is
    scored by UNet++ seed i only, so the ± covers the generators and three seeds cost three runs, not nine."""
    from bench.bench_fidelity import build_parser, settings_from_args

    s = settings_from_args(build_parser().parse_args(["--model-seeds", "0", "1", "2"]))
    assert s.gen_seeds() == [0, 1, 2] and [s.seg_seeds_for(j) for j in range(3)] == [[0], [1], [2]]
    bench = _bench(tmp_path, model_seeds=[4, 5], seeds=[0, 1])
    ours, orig = Variant("ours", "ours"), Variant("original", "original")
    tasks = bench.gen_tasks(ours)
    assert [(t.gen_index, t.payload["config"]["seed"]) for t in tasks] == [(0, 4), (0, 4), (1, 5), (1, 5)]
    assert len({t.result for t in tasks}) == 4 and all(t.label.endswith(f" g{4 + t.gen_index}") for t in tasks)
    assert [t.payload["model_seed"] for t in bench.gen_tasks(orig)] == [4, 4, 5, 5]
    for t in tasks:  # what the UNet++ runs read must exist for seg_tasks_of
        (Path(t.payload["dir"]) / "samples").mkdir(parents=True)
        (Path(t.payload["dir"]) / "samples" / "manifest.csv").write_text(
            "checkpoint,checkpoint_path,seed,gen_start_scale,index,image,mask,true_pixel_pct,scale_h,scale_v\n"
            f"m,x,0,0,0,img{t.gen_index}.png,mask{t.gen_index}.png,1.0,1,1\n")
    seg = bench.seg_tasks_of(ours, tasks, 1)
    assert [t.label for t in seg] == ["ours-synthetic seed 1", "ours-mixed seed 1"]
    assert all(img.endswith("img1.png") for img, _ in seg[0].payload["train"])
    assert len(bench.seg_tasks_of(ours, tasks)) == 4
    # one generator seed: every UNet++ seed on its data, as before
    one = _bench(tmp_path / "one")
    assert one.s.seg_seeds_for(0) == [0, 1, 2]


def test_sources_that_only_sample_differently_reuse_the_models_of_ours(tmp_path):
    """``redraw`` and ``guided`` train the very models ``ours`` trains (same settings, pair, seed): they load them
    (a dependency on ours' task) instead of training them again; a warm-started variant trains its own."""
    from bench.bench_fidelity import SAMPLING_KEY

    bench = _bench(tmp_path)
    bench.s.variants = [Variant("ours", "ours"), Variant("redraw", "ours", ((SAMPLING_KEY, 4),)),
                        Variant("guided", "guided"), Variant("warm", "ours", (("niter", 3), ("prior", "auto")))]
    gens, _ = bench.plan()
    for name in ("redraw", "guided"):
        for mine, donor in zip(gens[name], gens["ours"]):
            assert mine.deps == [donor] and mine.payload["donor"] == donor.payload["dir"]
            assert mine.result != donor.result
    assert all("donor" not in t.payload for t in gens["ours"] + gens["warm"])


def test_a_warm_start_variant_gets_a_prior_trained_outside_the_split(tmp_path):
    """``prior=auto``: one prior at the full budget on the first pair outside training and validation; every model
    of the variant starts from it (``init_from``) at the variant's own budget."""
    bench = _bench(tmp_path, niter=11)
    warm = Variant("warm", "ours", (("niter", 3), ("prior", "auto")))
    prior = bench.prior_task(warm)
    stem = bench.prior_stem()
    assert stem not in bench.train + bench.val and prior.payload["rgba"].endswith(f"{stem}.png")
    assert prior.payload["config"]["niter"] == 11 and prior.payload["config"]["init_from"] is None
    for t in bench.gen_tasks(warm):
        assert t.deps == [prior]
        assert t.payload["config"]["init_from"] == str(Path(prior.payload["dir"]) / "model")
        assert t.payload["config"]["niter"] == 3
    given = bench.gen_tasks(Variant("w2", "ours", (("prior", "/some/checkpoint"),)))[0]
    assert given.payload["config"]["init_from"] == "/some/checkpoint" and given.deps == []


def test_a_preset_variant_keeps_its_own_size_and_budget(tmp_path):
    from singanseg_core.training.config import PRESETS

    bench = _bench(tmp_path)
    live = bench.engine_config(Variant("live", "ours", (("preset", "live"),)), 150, 2)
    assert live["max_size"] == PRESETS["live"].max_size and live["niter"] == PRESETS["live"].niter
    assert live["d_steps"] == PRESETS["live"].d_steps and live["seed"] == 2
    paper = bench.engine_config(Variant("ours", "ours"), 150, 0)
    assert paper["max_size"] == 64 and paper["niter"] == 150
