"""The one number rule (``singanseg_core.ranges``) and the public range tables every caller checks against."""

from __future__ import annotations

import math

import pytest

from singanseg_core.errors import InputError
from singanseg_core.ranges import SEED_RANGE, check_number, format_range, range_problem
from singanseg_core.sampling.writer import SAMPLING_RANGES, check_sampling
from singanseg_core.services import job_tasks
from singanseg_core.studies.config import check_counts
from singanseg_core.style.config import STYLE_RANGES
from singanseg_core.training.config import TRAIN_RANGES, TrainConfig
from singanseg_core.cli.commands import _common


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "3", None, 0, 11, 2.5])
def test_integer_range_refuses_everything_but_whole_numbers_inside(value: object) -> None:
    with pytest.raises(InputError, match=r"^k must be an integer in 1\.\.10, got "):
        check_number("k", value, 1, 10)


def test_whole_floats_become_ints_and_float_ranges_give_floats() -> None:
    assert check_number("k", 5.0, 1, 10) == 5 and isinstance(check_number("k", 5.0, 1, 10), int)
    assert isinstance(check_number("x", 1, 0.0, 2.0), float)
    assert format_range(0.25, 4.0) == "0.25..4" and format_range(*SEED_RANGE) == f"0..{2**63 - 1}"
    with pytest.raises(InputError, match=r"^--opt must be a number in 0\.25\.\.4, got nan$"):
        check_number("x", math.nan, 0.25, 4.0, what="--opt")


def test_train_config_normalises_whole_floats_and_names_the_setting() -> None:
    cfg = TrainConfig(niter=30.0).validated()  # type: ignore[arg-type]  # a JSON number
    assert cfg.niter == 30 and isinstance(cfg.niter, int)
    with pytest.raises(InputError, match=r"^niter must be an integer in 1\.\.1000000, got 2\.5$"):
        TrainConfig(niter=2.5).validated()  # type: ignore[arg-type]
    with pytest.raises(InputError, match="^beta1 must be a number in 0..0.999, got nan$"):
        TrainConfig(beta1=math.nan).validated()


def test_sampling_job_and_cli_share_the_tables() -> None:
    """The job validator and the CLI read their bounds from the same public tables as the core."""
    with pytest.raises(InputError, match=r"^scale_h must be a number in 0\.25\.\.4, got 5"):
        check_sampling(scale_h=5)
    assert _common.train_setting("niter").bounds == TRAIN_RANGES["niter"]  # type: ignore[attr-defined]
    assert _common.sampling_setting("scale_h").bounds == SAMPLING_RANGES["scale_h"]  # type: ignore[attr-defined]
    assert _common.ranged("steps").bounds == STYLE_RANGES["steps"]  # type: ignore[attr-defined]
    assert _common.ranged("style_size").bounds == STYLE_RANGES["size"]  # type: ignore[attr-defined]
    lo, hi = STYLE_RANGES["steps"]
    with pytest.raises(InputError, match=rf"^steps must be an integer in {lo}\.\.{hi}, got {hi + 1}$"):
        job_tasks._number({"steps": hi + 1}, "steps", 100, *STYLE_RANGES["steps"])
    assert job_tasks._number({}, "seed", 7, *SEED_RANGE) == 7


@pytest.mark.parametrize("value", [math.nan, math.inf, 1.5, "2"])
def test_study_counts_refuse_non_numbers_with_one_line(value: object) -> None:
    """``nan``/``inf`` once crashed ``int(v)`` inside the check; now they are a one-line error."""
    with pytest.raises(InputError, match="r_values: .* is not a whole number in 1..100000"):
        check_counts([1, value], "r_values")


def test_range_problem_is_none_inside() -> None:
    assert range_problem(3, 1, 10) is None and range_problem(0.5, 0.0, 1.0) is None
