"""Fold split, leakage, and a tiny small-data study end to end with the real engine."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from singanseg_core.errors import Cancelled, InputError
from singanseg_core.segmentation import SegConfig, real_pairs
from singanseg_core.studies import (
    StudyConfig,
    list_studies,
    load_study,
    plan_runs,
    run_study,
    split_folds,
)

from tests.helpers import POLYPS, needs_shared
METRICS = ["dice_loss", "iou", "fscore", "accuracy", "recall", "precision"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_split_folds_deterministic_disjoint_complete():
    stems = [f"img{i:02d}" for i in range(40)]
    a = split_folds(stems, 3, seed=7)
    assert a == split_folds(list(reversed(stems)), 3, seed=7)  # order of the input does not matter
    assert a != split_folds(stems, 3, seed=8)
    assert sorted(len(f) for f in a) == [13, 13, 14]
    flat = [s for f in a for s in f]
    assert sorted(flat) == stems and len(set(flat)) == 40
    with pytest.raises(InputError):
        split_folds(["a", "b"], 3)


@needs_shared
def test_plans_never_train_on_validation_images():
    stems = [p.name for p in real_pairs(POLYPS)]
    folds = split_folds(stems, 3, 0)
    rvs = plan_runs(StudyConfig(kind="real-vs-synthetic", data_dir=str(POLYPS), n_values=[1, 3],
                                variants=["raw", "st-1:1000"]), folds)
    assert len(rvs) == 3 * (1 + 2 * 2)
    for run in rvs:
        assert not set(run.train_stems) & set(run.val_stems)
        assert set(run.train_stems) | set(run.val_stems) == set(stems)
        assert set(run.val_stems) == set(folds[run.fold - 1])
    small = plan_runs(StudyConfig(kind="small-data", data_dir=str(POLYPS), r_values=[5, 10]), folds)
    assert [r.run_id for r in small] == ["R005-real", "R005-synthetic-raw", "R005-mixed-raw",
                                         "R010-real", "R010-synthetic-raw", "R010-mixed-raw"]
    for run in small:
        assert set(run.train_stems) <= set(folds[0]) and set(run.val_stems) == set(folds[1] + folds[2])
    assert set(small[0].train_stems) < set(small[3].train_stems)  # nested real sets
    with pytest.raises(InputError, match="fold one has"):
        plan_runs(StudyConfig(kind="small-data", data_dir=str(POLYPS), r_values=[20]), folds)


def _tiny_config(**over) -> StudyConfig:
    seg = SegConfig(encoder_name="mobilenet_v2", encoder_weights=None, image_size=32, batch_size=4, epochs=1,
                    lr=1e-3, lr_drop_epoch=1, lr_after_drop=1e-4, augment=False, device="cpu")
    base = dict(kind="small-data", data_dir=str(POLYPS), max_images=9, r_values=[1, 2], samples_per_image=2,
                variants=["raw"], singan_preset="quick", singan_overrides=dict(min_size=16, max_size=24, niter=4),
                seg=seg, device="cpu")
    return StudyConfig(**{**base, **over})


@pytest.mark.slow
def test_tiny_small_data_study_end_to_end_and_resume(tmp_path):
    study_dir = tmp_path / "ws" / "study1"
    cfg = _tiny_config()
    seen = []

    def stop_after_first_run(ev):
        seen.append(ev.stage)
        return ev.stage != "run-done"  # cancel right after the first run has been stored

    with pytest.raises(Cancelled):
        run_study(cfg, study_dir, progress=stop_after_first_run)
    assert [p.name for p in (study_dir / "runs").iterdir() if not p.name.startswith(".")] == ["R001-real"]
    first_result = (study_dir / "runs" / "R001-real" / "result.json").read_bytes()

    events = []
    res = run_study(cfg, study_dir, progress=lambda ev: events.append(ev))
    assert [e.run_id for e in events if e.stage == "skip"] == ["R001-real"]  # resumed, not redone
    assert (study_dir / "runs" / "R001-real" / "result.json").read_bytes() == first_result

    expected = {"R001-real", "R001-synthetic-raw", "R001-mixed-raw", "R002-real", "R002-synthetic-raw", "R002-mixed-raw"}
    assert set(res.table["run_id"]) == expected and res.complete
    t = res.table.set_index("run_id")
    for m in METRICS:
        assert t[m].between(0, 1).all(), m
    assert t.loc["R002-real", "n_train"] == 2 and t.loc["R002-synthetic-raw", "n_train"] == 4
    assert t.loc["R002-mixed-raw", "n_train"] == 6 and (t["n_val"] == 6).all()  # 9 images: folds of 3

    # leakage: every training file is a fold-one image or a sample of a model of one
    folds = json.loads((study_dir / "folds.json").read_text())["folds"]
    val = set(folds[1] + folds[2])
    for run_id in expected:
        files = pd.read_csv(study_dir / "runs" / run_id / "train_files.csv")
        spec = json.loads((study_dir / "runs" / run_id / "run.json").read_text())["spec"]
        assert not set(spec["train_stems"]) & val and set(spec["val_stems"]) == val
        for image in files["image"]:
            p = Path(image)
            owner = p.stem if p.parent.name == "images" else p.parent.name
            assert owner in spec["train_stems"], (run_id, image)
            if p.parent.name != "images":
                assert p.parent.parent == study_dir / "samples"
    manifests = pd.concat(pd.read_csv(m) for m in (study_dir / "samples").glob("*/manifest.csv"))
    assert set(manifests["checkpoint"]) <= set(folds[0]) and len(manifests) == 2 * 2  # 2 models x 2 samples
    assert {p.name for p in (study_dir / "models").iterdir()} == set(folds[0][:2])

    # a full rerun trains nothing, and results are on disk
    again = []
    res2 = run_study(cfg, study_dir, progress=lambda ev: again.append(ev.stage))
    assert set(again) == {"skip", "done"} and again.count("skip") == 6
    pd.testing.assert_frame_equal(res2.table, res.table)
    assert len(pd.read_csv(study_dir / "results.csv")) == 6 and (study_dir / "results.parquet").exists()
    loaded = load_study(study_dir)
    assert set(loaded.table["run_id"]) == expected and not loaded.pending
    assert loaded.figure().data  # one line per training set
    listed = list_studies(tmp_path / "ws")
    assert listed["name"].tolist() == ["study1"] and listed["runs_done"].tolist() == [6]

    from singanseg_core.cli.main import main

    assert main(["study", "show", str(study_dir)]) == 0
    assert main(["study", "list", str(tmp_path / "ws")]) == 0

    # reproducible: a fresh folder with the same settings gives the same samples and the same numbers
    fresh = run_study(_tiny_config(r_values=[1], include_real=False, include_mixed=False), tmp_path / "again")
    assert fresh.table["run_id"].tolist() == ["R001-synthetic-raw"]
    for m in METRICS:
        assert fresh.table[m].iloc[0] == pytest.approx(t.loc["R001-synthetic-raw", m], abs=1e-9)
    stem = folds[0][0]
    for suffix in ("img", "mask"):
        first = sorted((study_dir / "samples" / stem).glob(f"*_{suffix}.png"))
        second = sorted((tmp_path / "again" / "samples" / stem).glob(f"*_{suffix}.png"))
        assert len(first) == 2 and [p.read_bytes() for p in first] == [p.read_bytes() for p in second]

    # other settings in the same folder are refused
    with pytest.raises(InputError, match="other settings"):
        run_study(_tiny_config(samples_per_image=3), study_dir)
    assert load_study(study_dir).config.samples_per_image == 2


@pytest.mark.slow
def test_real_vs_synthetic_with_style_transfer_variant(tmp_path):
    # random VGG features: the pipeline, not the look, is under test (no pretrained weights offline)
    cfg = _tiny_config(kind="real-vs-synthetic", max_images=3, n_values=[1], folds=[2], variants=["raw", "st-1:1000"],
                       st_steps=2, st_size=24, st_random_features=True)
    res = run_study(cfg, tmp_path / "rvs")
    assert res.table["run_id"].tolist() == ["fold2-FAKE-1-raw", "fold2-FAKE-1-st-1x1000", "fold2-REAL"]
    assert res.summary["train_set"].tolist() == ["REAL", "FAKE-1", "FAKE-1"]
    assert len(res.figure().data) == 3  # bars: real, raw, st-1:1000
    assert (res.table["n_train"] == 2).all() and (res.table["n_val"] == 1).all()
    st_files = pd.read_csv(tmp_path / "rvs" / "runs" / "fold2-FAKE-1-st-1x1000" / "train_files.csv")["image"]
    assert all(f.endswith("_st.png") and "samples-st-1x1000" in f for f in st_files)
    folds = json.loads((tmp_path / "rvs" / "folds.json").read_text())["folds"]
    styled = pd.concat(pd.read_csv(m) for m in (tmp_path / "rvs" / "samples-st-1x1000").glob("*/manifest.csv"))
    assert set(styled["checkpoint"]) == set(folds[0] + folds[2])  # only the training folds' models


@needs_shared
def test_presets():
    demo = StudyConfig.from_preset("small-data", "demo", POLYPS)
    assert demo.seg.encoder_name != "se_resnext50_32x4d" and 64 <= demo.seg.image_size <= 128
    assert demo.variants == ["raw"] and max(demo.r_values) <= 13
    paper = StudyConfig.from_preset("small-data", "paper", POLYPS, seg_overrides={"epochs": 7})
    assert paper.r_values == [5, 10, 15, 20, 25, 30, 50] and paper.samples_per_image == 10
    assert paper.seg.encoder_name == "se_resnext50_32x4d" and paper.seg.image_size == 128 and paper.seg.epochs == 7
    rvs = StudyConfig.from_preset("real-vs-synthetic", "paper", POLYPS)
    assert rvs.n_values == [1, 2, 3, 4, 5] and rvs.seg.epochs == 300 and rvs.n_folds == 3
    assert StudyConfig.from_dict(rvs.to_dict()) == rvs
    with pytest.raises(InputError):
        StudyConfig(kind="small-data", data_dir=str(POLYPS), variants=["blurry"])
