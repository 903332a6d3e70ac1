"""The pieces of bench/bench_quick_preset.py that decide its verdict: which polyps, which settings, the targets."""

from __future__ import annotations

import pytest

from bench.bench_quick_preset import markdown, pick_polyps, variant_config


def test_the_two_smallest_objects_and_the_median_one_are_picked():
    pcts = {"a": 30.0, "b": 2.0, "c": 15.0, "d": 3.0, "e": 40.0, "f": 10.0}
    assert pick_polyps(pcts) == ["b", "d", "f"]   # sorted 2, 3, 10, 15, 30, 40: the lower median is 10 (f)
    assert pick_polyps({"x": 1.0, "y": 2.0}) == ["x", "y"]   # the median is already picked


def test_variants_are_presets_or_paper_settings_with_changes():
    from singanseg_core.training.config import PRESETS

    name, cfg = variant_config("quick", seed=3)
    assert name == "quick" and cfg.seed == 3 and (cfg.max_size, cfg.min_size) == (PRESETS["quick"].max_size,
                                                                                 PRESETS["quick"].min_size)
    name, cfg = variant_config("coarse40:max_size=64,min_size=40,niter=300", seed=1)
    assert (name, cfg.max_size, cfg.niter, cfg.min_size, cfg.seed) == ("coarse40", 64, 300, 40, 1)
    with pytest.raises(ValueError, match="unknown preset"):
        variant_config("fast", 0)


def _row(variant, empty, n=32, train_s=100.0):
    return {"variant": variant, "spec": variant, "stem": "cju2zp89k9q1g0855k1x0f1xa", "seed": 0, "scales": 3,
            "train_s": train_s, "n": n, "threads": 2, "real_pct": 2.7, "empty_s0": empty, "empty_s1": 0,
            "mean_pct_s0": 2.0, "empty_s0_redraw4": empty // 2, "draws_s0_redraw4": n + 2 * empty}


def test_the_verdict_needs_both_targets_over_all_models():
    md = markdown([_row("a", 1), _row("a", 2), _row("b", 1), _row("b", 1, train_s=301.0), _row("c", 4)], "cmd")
    assert "- **a** (a): 4.7 % empty masks at start 0 over 2 models (worst model 6 %)" in md
    assert "targets met" in md.split("- **a**")[1].split("\n")[0]
    assert "targets not met" in md.split("- **b**")[1].split("\n")[0]    # 3.1 % empty, but one model took > 5 min
    assert "targets not met" in md.split("- **c**")[1].split("\n")[0]    # 12.5 % empty
    # the redraw option is reported beside the verdict, which stays on the model's own draws
    assert "targets not met; with `redraw_empty=4`: 6.2 % empty at start 0 for 1.25 draws per sample." in md
    assert "| 2/32 | 40 |" in md
