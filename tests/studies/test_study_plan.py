"""Study planning before any data is read (fold sizes, R limits, tiny folds), seeds, and the study figures."""

from __future__ import annotations

import pandas as pd
import pytest

from singanseg_core.errors import InputError
from singanseg_core.studies import StudyConfig, plan_runs, split_folds
from singanseg_core.studies.config import check_counts, parse_counts
from singanseg_core.studies.plan import (MIN_VALIDATION_IMAGES, check_r_values, default_r_values, describe_plan,
                                         fold_sizes, max_r)
from singanseg_core.studies.results import TABLE_COLUMNS, seed_spread, summarize_table


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_fold_sizes_match_the_real_split(n_folds: int) -> None:
    for n in range(n_folds, 41):
        folds = split_folds([f"img{i}" for i in range(n)], n_folds, seed=n)
        assert fold_sizes(n, n_folds) == [len(f) for f in folds]
        assert max_r(n, n_folds) == len(folds[0])


def test_r_values_are_checked_against_fold_one() -> None:
    assert check_r_values([1, 3], 3) == [1, 3]
    with pytest.raises(InputError, match="R=4 real images requested but fold one has 3"):
        check_r_values([1, 4], 3)
    assert default_r_values([5, 10, 15], 40, 3) == [5, 10]
    assert default_r_values([5, 10], 4, 3) == [1, 2]  # at least two R values: a curve


def test_counts_are_parsed_and_validated_by_the_config_too() -> None:
    assert parse_counts("5; 1, 2,,", "R values") == [1, 2, 5]
    for text, msg in (("1, x", "write whole numbers"), ("0, 1", "not a whole number in 1.."), ("", "at least one")):
        with pytest.raises(InputError, match=msg):
            parse_counts(text, "R values")
    assert check_counts([0, 2], "seeds", lo=0) == [0, 2]
    with pytest.raises(InputError, match="r_values: 0 is not"):
        StudyConfig(kind="small-data", data_dir="x", r_values=[0, 2])
    with pytest.raises(InputError, match="n_values"):
        StudyConfig(kind="real-vs-synthetic", data_dir="x", n_values=[1.5])
    with pytest.raises(InputError, match="seeds"):
        StudyConfig(kind="small-data", data_dir="x", seeds=[-1])


def test_plan_describes_folds_and_warns_on_tiny_validation() -> None:
    small = StudyConfig.from_preset("small-data", "demo", "d", r_values=[2, 4])
    plan = describe_plan(small, 40)
    assert plan.ok and plan.fold_sizes == (14, 13, 13) and plan.pool == 14 and plan.n_val == (26,)
    assert plan.runs == len(plan_runs(small, split_folds([str(i) for i in range(40)], 3))) == 6
    assert not plan.warnings and "validation on 26 images" in plan.describe()

    rvs = StudyConfig.from_preset("real-vs-synthetic", "demo", "d")  # max_images=9: 3 images per fold
    plan = describe_plan(rvs, 40)
    assert plan.n_images == 9 and plan.n_val == (3,) and plan.n_train == (6,)
    assert len(plan.warnings) == 1 and "validation on only 3 image(s)" in plan.warnings[0]

    assert describe_plan(small, 2).problems == ("2 image(s) cannot be split into 3 folds; add images",)
    too_big = describe_plan(StudyConfig.from_preset("small-data", "demo", "d", r_values=[9]), 8)
    assert not too_big.ok and "R=9 real images requested but fold one has 3" in too_big.problems[0]
    assert "fold one holds 3" in too_big.describe()


def test_the_small_validation_warning_starts_below_the_minimum() -> None:
    """Three folds of 3·k images validate on k images: k = MIN_VALIDATION_IMAGES is quiet, one fewer warns."""
    def warned(k: int) -> bool:
        config = StudyConfig.from_preset("real-vs-synthetic", "demo", "d", max_images=3 * k)
        plan = describe_plan(config, 3 * k)
        assert plan.n_val == (k,)
        return any(f"validation on only {k} image(s)" in w for w in plan.warnings)

    assert not warned(MIN_VALIDATION_IMAGES) and not warned(MIN_VALIDATION_IMAGES + 4)
    assert warned(MIN_VALIDATION_IMAGES - 1) and warned(2)


def test_seeds_repeat_every_run_and_keep_the_base_ids() -> None:
    folds = split_folds([str(i) for i in range(9)], 3)
    one = plan_runs(StudyConfig(kind="small-data", data_dir="d", r_values=[2]), folds)
    three = plan_runs(StudyConfig(kind="small-data", data_dir="d", r_values=[2], seeds=[0, 1, 2]), folds)
    assert len(three) == 3 * len(one)
    assert {r.run_id for r in one} <= {r.run_id for r in three}  # adding seeds keeps the finished runs
    assert {r.seed for r in three if r.run_id.endswith("-seed2")} == {2}
    assert len({r.run_id for r in three}) == len(three)


def _rows(rows: list[dict]) -> pd.DataFrame:
    out = []
    for r in rows:
        row = dict.fromkeys(TABLE_COLUMNS, 0)
        row.update(r)
        out.append(row)
    return pd.DataFrame(out, columns=TABLE_COLUMNS)


def test_summary_and_spread_over_seeds() -> None:
    table = _rows([dict(run_id="R002-real", train_set="real", train_data="real", variant="", R=2, seed=0, iou=0.4),
                   dict(run_id="R002-real-seed1", train_set="real", train_data="real", variant="", R=2, seed=1,
                        iou=0.2),
                   dict(run_id="R004-real", train_set="real", train_data="real", variant="", R=4, seed=0, iou=0.5)])
    summary = summarize_table("small-data", table)
    assert list(summary["R"]) == [2, 4] and list(summary["runs"]) == [2, 1]
    assert summary["iou"].tolist() == pytest.approx([0.3, 0.5])
    assert summary["iou_std"].iloc[0] == pytest.approx(0.1414, abs=1e-3)
    spread = seed_spread(table, "iou")
    assert len(spread) == 1 and spread["seeds"].iloc[0] == 2
    assert (spread["min"].iloc[0], spread["max"].iloc[0]) == (0.2, 0.4)
    single = summarize_table("small-data", table.iloc[[0, 2]])
    assert "runs" not in single and "iou_std" not in single  # one seed: the plain Table 2 layout
    assert seed_spread(table.iloc[[0, 2]], "iou").empty


def test_small_data_figure_ticks_at_r_and_separates_equal_markers() -> None:
    from singanseg_core.analysis.figures import small_data_figure

    table = _rows([dict(run_id="a", train_data="real", variant="", R=3, iou=0.5, n_train=3),
                   dict(run_id="b", train_data="synthetic", variant="raw", R=3, iou=0.5, n_train=12)])
    fig = small_data_figure(table)
    assert list(fig.layout.xaxis.tickvals) == [3] and list(fig.layout.xaxis.range) == [2, 4]
    xs = [t.x[0] for t in fig.data]
    assert len(set(xs)) == 2 and all(abs(x - 3) < 0.2 for x in xs)  # side by side around R=3
    assert [t.customdata[0][0] for t in fig.data] == [3, 3]  # the hover still says R=3
    assert not any(t.error_y.visible for t in fig.data)  # one run each: no error bars
    fig = small_data_figure(pd.concat([table, _rows([dict(run_id="c", train_data="real", variant="", R=3,
                                                          iou=0.3, seed=1, n_train=3)])]))
    real = next(t for t in fig.data if t.name == "real")
    assert real.error_y.visible and real.y[0] == pytest.approx(0.4)
