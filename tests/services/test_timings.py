"""``services.timings``: this machine's own time estimates from its past runs kept in the workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from singanseg_core.services import timings
from singanseg_core.services.timings import KEPT_RUNS, TIMINGS_FILE, describe, estimate, record_run, style_key
from singanseg_core.services.workspace import Workspace


def test_no_estimate_before_the_first_run_then_the_median_per_unit(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    key = style_key(64, "lbfgs")
    assert estimate(ws, "style-preview", key, 48) is None
    assert "No time estimate" in describe(None, "this preview")
    for units, seconds in ((48, 36.0), (48, 52.0), (24, 20.0)):  # 0.75, 1.08, 0.83 s per unit
        record_run(ws, "style-preview", key, units, seconds)
    est = estimate(ws, "style-preview", key, 96)
    assert est is not None and est.runs == 3
    assert est.seconds == pytest.approx(96 * 20.0 / 24) and est.low == pytest.approx(96 * 0.75)
    text = describe(est, "this preview")
    assert "about 80 s" in text and "last 3 similar runs" in text and "busy" in text
    assert estimate(ws, "style-preview", style_key(None, "lbfgs"), 96) is None  # other settings: other times
    assert estimate(ws, "style-batch", key, 96) is None


def test_only_the_last_runs_are_kept(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    for i in range(KEPT_RUNS + 5):
        record_run(ws, "style-batch", "k", 1, 100.0 if i < 5 else 1.0)
    est = estimate(ws, "style-batch", "k", 1)
    assert est.runs == KEPT_RUNS and est.high == pytest.approx(1.0)  # the 5 slow old runs are gone


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b'{"style-batch|k": [[0, 5], ["a", 1], [2]]}',
                                     b'{"style-batch|k": 7}', b"{" * 10_000])
def test_a_damaged_timings_file_only_loses_the_estimates(tmp_path: Path, content: bytes) -> None:
    ws = Workspace(tmp_path / "ws")
    (ws.root / TIMINGS_FILE).write_bytes(content)
    assert estimate(ws, "style-batch", "k", 10) is None
    record_run(ws, "style-batch", "k", 10, 5.0)
    assert estimate(ws, "style-batch", "k", 10).seconds == pytest.approx(5.0)


def test_a_huge_timings_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(tmp_path / "ws")
    record_run(ws, "style-batch", "k", 10, 5.0)
    monkeypatch.setattr(timings, "MAX_TIMINGS_BYTES", 8)
    assert estimate(ws, "style-batch", "k", 10) is None


def test_keys_are_capped(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    for i in range(timings.MAX_KEYS + 3):
        record_run(ws, "style-batch", f"k{i}", 1, 1.0)
    assert len(timings._read(ws)) <= timings.MAX_KEYS
