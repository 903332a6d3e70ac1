"""The pieces of bench/bench_time_to_model.py that decide its verdicts: the ETA's error, the targets."""

from __future__ import annotations

import pytest

from bench.bench_time_to_model import eta_errors, markdown


def test_eta_errors_compare_each_eta_with_the_time_really_left():
    # ETAs given at t = 10 (said 90 s, 90 were left) and t = 40 (said 90 s, 60 were left); training ended at 100
    assert eta_errors([(10.0, 90.0), (40.0, 90.0), (50.0, None)], 100.0) == pytest.approx([0.0, 0.5])
    assert eta_errors([(100.0, 5.0)], 100.0) == []           # nothing left: no error to speak of


def _row(variant, size, train_s, empty, eta=0.1):
    return {"variant": variant, "spec": variant, "size": size, "stem": "cju2zp89k9q1g0855k1x0f1xa", "seed": 0,
            "scales": 6, "estimate_s": 50.0, "train_s": train_s, "eta_worst": eta, "s_per_it": [0.1, None],
            "n": 32, "empty_s0": empty, "w1": 1.5}


def test_the_verdict_needs_both_targets_at_128_px():
    md = markdown([_row("live", 128, 55.0, 1), _row("slow", 128, 61.0, 0), _row("empty", 128, 30.0, 2),
                   _row("live", 64, 20.0, 9)], [{"variant": "paper (original code)", "size": 128,
                                                 "stem": "cju2zp89k9q1g0855k1x0f1xa", "train_s": 900.0,
                                                 "scales": 8}], "cmd")
    assert "- **live** at 128 px: slowest model 55 s, 3.1 % empty masks at start 0, worst ETA error 10 % — " \
           "targets met" in md
    assert "**slow** at 128 px" in md and "targets not met" in md.split("**slow**")[1].split("\n")[0]
    assert "targets not met" in md.split("**empty**")[1].split("\n")[0]       # 6.2 % empty
    assert "targets" not in md.split("**live** at 64 px")[1].split("\n")[0]   # 64 px: no verdict
    assert "| paper (original code) | 128 |" in md and "| 0.100 — |" in md
