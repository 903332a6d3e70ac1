"""Every math default of ``TrainConfig()`` and of the ``paper`` preset equals the original's own setting.

The golden tests pass the original's recorded options explicitly, so a default drifting from the paper would go
unnoticed there. Here each setting is compared with its source, by name:

* the options the original's training run recorded (``tests/golden/data/training.json``: their ``opt`` after
  ``post_config``) for every option its command line left at the default, and their learning-rate schedulers'
  milestones as constructed;
* the original's argument defaults as written down in ``/work/shared/reference/singan-seg-reference.md`` (its
  "Defaults" table, read at test time) for the options the golden run set on its command line (sizes, niter, nfc).
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

import pytest

from singanseg_core.training.config import PRESETS, TrainConfig
from tests.golden.replay import load_json
from tests.helpers import SHARED

REFERENCE = SHARED / "reference" / "singan-seg-reference.md"
GOLDEN = load_json("training")
THEIR_OPTIONS: dict[str, Any] = GOLDEN["options"]
THEIR_ARGV_OPTIONS = {a[2:] for a in GOLDEN["argv"] if a.startswith("--")}


def _reference_defaults() -> dict[str, str]:
    """The reference's defaults table: ``{"nfc, min_nfc": "32", "min_size, max_size": "25, 250", ...}``."""
    text = REFERENCE.read_text(encoding="utf-8")
    table = text[text.index("Defaults (singan-seg `config.py`"):]
    rows = {}
    for line in table.splitlines()[1:]:
        m = re.match(r"^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|$", line)
        if m:
            rows[m.group(1)] = m.group(2)
        elif rows and not line.startswith("|"):
            break
    return rows


def _their_default(option: str) -> Any:
    """Their recorded option, which must be one their command line did not set (so it is their default)."""
    assert option not in THEIR_ARGV_OPTIONS, f"{option} was set on the golden run's command line"
    return THEIR_OPTIONS[option]


def _from_table(row: str, index: int = 0) -> float:
    value = _reference_defaults()[row].split(",")[index]
    return float(re.match(r"\s*([0-9.e-]+)", value).group(1))  # type: ignore[union-attr]


def _max_nfc() -> int:
    """Their per-scale width rule ``nfc = min(32 · 2^floor(scale/4), 128)``: the cap is ``max_nfc``."""
    m = re.search(r"`nfc = min\(32 · 2\^floor\(scale/4\), (\d+)\)`", REFERENCE.read_text(encoding="utf-8"))
    assert m, "the reference no longer states the nfc rule"
    return int(m.group(1))


def _milestone() -> int:
    milestones = {tuple(s["milestones"]) for scale in GOLDEN["scales"] for s in scale["schedulers"]}
    assert len(milestones) == 1 and len(next(iter(milestones))) == 1, milestones
    return next(iter(milestones))[0]


# Our setting -> the original's value (a callable: read when the test runs, from the sources above).
ORIGINAL: dict[str, Any] = {
    "nc_im": lambda: THEIR_OPTIONS["nc_im"],            # SinGAN-Seg always passes 4 (argv and train.sh)
    "nfc": lambda: int(_from_table("nfc, min_nfc")),
    "max_nfc": _max_nfc,
    "ker_size": lambda: _their_default("ker_size"),
    "num_layer": lambda: _their_default("num_layer"),
    "min_size": lambda: int(_from_table("min_size, max_size", 0)),
    "max_size": lambda: int(_from_table("min_size, max_size", 1)),
    "scale_factor": lambda: _their_default("scale_factor_init"),
    "niter": lambda: int(_from_table("niter")),
    "lr_g": lambda: _their_default("lr_g"),
    "lr_d": lambda: _their_default("lr_d"),
    "beta1": lambda: _their_default("beta1"),
    "gamma": lambda: _their_default("gamma"),
    "lr_drop_epoch": _milestone,
    "d_steps": lambda: _their_default("Dsteps"),
    "lambda_grad": lambda: _their_default("lambda_grad"),
    "alpha": lambda: _their_default("alpha"),
    "noise_amp_init": lambda: _their_default("noise_amp_init"),
}
# The original's code paths: its absolute milestone, its uint8 round trip, fp32, eager, one scale at a time.
ORIGINAL_PATHS: dict[str, Any] = {"lr_drop_at": None, "faithful_resize": True, "precision": "fp32",
                                  "compile": False, "schedule": "sequential",
                                  "gp_every": 1, "init_from": None}
# Not the original's math: speed only, our seed convention, and settings read only off the paper's path.
NOT_MATH = {"prev_batch_epochs", "seed", "concurrent_depth", "concurrent_lr_scale"}


def test_every_setting_is_pinned_or_declared_not_math() -> None:
    """A new TrainConfig field must be given its original value here (or be declared outside the math)."""
    names = {f.name for f in fields(TrainConfig)}
    assert names == set(ORIGINAL) | set(ORIGINAL_PATHS) | NOT_MATH


@pytest.mark.parametrize("config", ["TrainConfig()", "paper"])
@pytest.mark.parametrize("setting", sorted(ORIGINAL))
def test_math_default_is_the_originals(setting: str, config: str) -> None:
    cfg = TrainConfig() if config == "TrainConfig()" else PRESETS["paper"]
    expected = ORIGINAL[setting]()
    assert getattr(cfg, setting) == expected, \
        f"{config}.{setting} = {getattr(cfg, setting)!r}, the original's is {expected!r}"


@pytest.mark.parametrize("config", ["TrainConfig()", "paper"])
@pytest.mark.parametrize("setting", sorted(ORIGINAL_PATHS))
def test_default_code_path_is_the_originals(setting: str, config: str) -> None:
    cfg = TrainConfig() if config == "TrainConfig()" else PRESETS["paper"]
    assert getattr(cfg, setting) == ORIGINAL_PATHS[setting]


def test_paper_preset_is_the_default_config() -> None:
    assert PRESETS["paper"] == TrainConfig() == TrainConfig.from_preset("paper")


def test_reference_table_is_read() -> None:
    """The table parser finds the rows this file relies on (a renamed row fails here, not as a KeyError)."""
    rows = _reference_defaults()
    assert {"nfc, min_nfc", "min_size, max_size", "niter"} <= set(rows)
    assert _from_table("niter") == 2000 and _max_nfc() == 128 and _milestone() == 1600
