"""``StudyConfig.synthetic_source = "guided"``: which layout each guided sample asks for (``studies.layouts``) and a
tiny study whose synthetic pairs follow other images' masks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from singanseg_core.errors import InputError
from singanseg_core.model.layout import MaskTransform, apply_transform
from singanseg_core.segmentation import SegConfig
from singanseg_core.studies import StudyConfig, plan_runs, run_study, split_folds
from singanseg_core.studies.layouts import donors, plan_layouts
from tests.helpers import POLYPS, needs_shared


def test_layouts_come_from_the_stems_own_fold_never_from_validation() -> None:
    stems = [f"img{i:02d}" for i in range(12)]
    folds = split_folds(stems, 3, seed=0)
    cfg = StudyConfig(kind="real-vs-synthetic", data_dir="d", n_values=[4], synthetic_source="guided")
    for run in plan_runs(cfg, folds):
        if run.train_data != "synthetic":
            continue
        for stem in run.train_stems:
            used = {p.donor for p in plan_layouts(stem, folds, range(run.N), seed=0)}
            assert used and used <= set(run.train_stems) and not used & set(run.val_stems)
            assert stem not in used  # the others of the fold: layouts the model was not trained on
    small = StudyConfig(kind="small-data", data_dir="d", r_values=[1, 2], synthetic_source="guided")
    for run in plan_runs(small, folds):
        for stem in run.train_stems:
            assert not {p.donor for p in plan_layouts(stem, folds, range(8), 0)} & set(run.val_stems)
    assert donors("lonely", [["lonely"], ["a", "b"]]) == ["lonely"]


def test_each_sample_keeps_its_layout_when_more_are_asked_for() -> None:
    folds = [["a", "b", "c"], ["d", "e", "f"]]
    few, more = plan_layouts("a", folds, range(3), seed=4), plan_layouts("a", folds, range(6), seed=4)
    assert few == more[:3] and [p.donor for p in more] == ["b", "c"] * 3
    assert len({p.transform for p in more}) == 6  # every sample its own move
    assert plan_layouts("a", folds, [5], seed=4) == more[5:]
    assert plan_layouts("a", folds, range(3), seed=5) != few


def test_layout_transform_moves_flips_and_scales() -> None:
    mask = np.zeros((20, 40), np.uint8)
    mask[2:6, 4:10] = 255
    assert np.array_equal(apply_transform(mask, MaskTransform(flip_h=True)) > 0.5, (mask > 0)[:, ::-1])
    shifted = apply_transform(mask, MaskTransform(dx=0.25, dy=0.5))
    assert np.array_equal(shifted[12:16, 14:20] > 0.5, np.ones((4, 6), bool)) and (shifted > 0.5).sum() == 24
    centred = np.roll(mask, (6, 13), axis=(0, 1))  # rows 8:12, columns 17:23: about the centre
    assert (apply_transform(centred, MaskTransform(scale=2.0)) > 0.5).sum() == 4 * 24
    with pytest.raises(InputError, match="shift x"):
        apply_transform(mask, MaskTransform(dx=float("nan")))
    with pytest.raises(InputError, match="mask scale"):
        apply_transform(mask, MaskTransform(scale=100.0))


def test_unknown_source_is_refused() -> None:
    with pytest.raises(InputError, match="guided"):
        StudyConfig(kind="small-data", data_dir="d", synthetic_source="guide")


@pytest.mark.slow
@needs_shared
def test_tiny_guided_study_samples_follow_other_masks(tmp_path, one_torch_thread) -> None:  # noqa: ANN001
    seg = SegConfig(encoder_name="mobilenet_v2", encoder_weights=None, image_size=32, batch_size=4, epochs=1,
                    lr=1e-3, augment=False, device="cpu")
    cfg = StudyConfig(kind="small-data", data_dir=str(POLYPS), max_images=6, r_values=[2], samples_per_image=3,
                      include_real=False, include_mixed=False, synthetic_source="guided", singan_preset="quick",
                      singan_overrides=dict(min_size=16, max_size=24, niter=4), seg=seg, device="cpu")
    res = run_study(cfg, tmp_path / "s")
    assert res.table["run_id"].tolist() == ["R002-synthetic-raw"] and res.table["n_train"].tolist() == [6]
    frames = [pd.read_csv(m) for m in sorted((tmp_path / "s" / "samples").glob("*/manifest.csv"))]
    assert len(frames) == 2
    for frame in frames:
        stem = frame["checkpoint"][0]
        assert len(frame) == 3 and frame["guide"].str.startswith("mask:").all()
        assert not frame["guide"].str.contains(f"mask:{stem}").any()  # another image's layout
        assert frame["guide_iou"].between(0, 1).all() and frame["inject_scale"].ge(1).all()
