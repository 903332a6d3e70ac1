"""A study's progress moves with the work inside a run (its SinGAN models scale by scale, then its UNet++), and
one sentence reads its result."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from singanseg_core.segmentation import METRIC_NAMES, SegProgress
from singanseg_core.studies import StudyConfig, run_study
from singanseg_core.studies.plan import default_r_values
from singanseg_core.studies.results import read_study

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_progress_bar_moves_while_a_run_prepares_its_synthetic_data(demo_ws, monkeypatch) -> None:
    from singanseg_core.studies import run as run_mod

    def fake_unetpp(train, val, seg, out_dir=None, progress=None):  # noqa: ANN001, ANN202 - no UNet++ here
        for epoch in (1, 2):
            progress(SegProgress("train", epoch, 2, 1, 1, 0.5))
        return SimpleNamespace(model=SimpleNamespace(info={}), metrics={m: 0.5 for m in METRIC_NAMES},
                               best_epoch=2, history=pd.DataFrame({"epoch": [1, 2]}), seconds=0.01)

    monkeypatch.setattr(run_mod, "train_segmentation", fake_unetpp)
    config = StudyConfig(kind="small-data", data_dir=str(demo_ws.datasets / "demo-ihc"), r_values=[1],
                         samples_per_image=2, variants=["raw"], include_mixed=False, singan_preset="quick",
                         singan_overrides=dict(min_size=16, max_size=24, niter=3), device="cpu")
    events = []
    run_study(config, demo_ws.studies / "moves", progress=lambda ev: events.append((ev.stage, ev.done, ev.fraction)))
    total = 2  # R = 1: real, synthetic
    synthetic = [f for stage, done, f in events if done == 1 and stage in ("model", "train")]
    model = [f for stage, done, f in events if done == 1 and stage == "model"]
    # the synthetic run: its SinGAN model moves the bar through the first half of the run, step by step
    assert len(set(model)) > 3 and model == sorted(model)
    assert 1 / total < model[1] and model[-1] <= (1 + 0.5) / total + 1e-9
    assert synthetic == sorted(synthetic) and synthetic[-1] == pytest.approx(2 / total)


def test_the_default_grid_of_r_values_is_a_curve() -> None:
    assert default_r_values([2, 4], 8, 3) == [2, 3]       # the demo dataset: fold one has 3 images
    assert default_r_values([5, 10, 15], 40, 3) == [5, 10]
    assert default_r_values([5, 10], 4, 3) == [1, 2]
    assert default_r_values([2, 4], 2, 3) == [1]          # fold one has one image: one R only


def test_one_sentence_reads_a_small_data_study() -> None:
    table = pd.DataFrame({"R": [1, 1, 2, 2], "train_data": ["real", "mixed", "real", "mixed"],
                          "iou": [0.30, 0.40, 0.50, 0.48]})
    sentence = read_study("small-data", table, "iou")
    assert "R = 1, 2" in sentence and "helped" in sentence and "+0.040" in sentence and "+0.100 at R = 1" in sentence
    worse = read_study("small-data", table.assign(iou=[0.5, 0.4, 0.5, 0.4]), "iou")
    assert "did not help" in worse and "-0.100" in worse


def test_one_sentence_reads_a_real_vs_synthetic_study() -> None:
    table = pd.DataFrame({"train_set": ["REAL", "FAKE-1", "FAKE-2"], "variant": ["real", "raw", "raw"],
                          "iou": [0.50, 0.30, 0.40]})
    sentence = read_study("real-vs-synthetic", table, "iou")
    assert "(FAKE-2, raw) reaches iou 0.400 against 0.500" in sentence and "80 %" in sentence
    assert "does not yet replace" in sentence
