"""**The** range check of a number setting: every config module states its allowed ranges as a public
``{name: (lo, hi)}`` table (``training.config.TRAIN_RANGES``, ``sampling.writer.SAMPLING_RANGES``,
``style.config.STYLE_RANGES``, ``studies.config.check_counts``) and every caller (configs, jobs, CLI) checks a value
against them here, so the rule and its one-line message are written once.

A range whose two ends are both ``int`` is an integer range: whole numbers only (``5.0`` is accepted as ``5``).
Bounds are inclusive; booleans, NaN and infinities are never numbers.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InputError

Bound = int | float
Range = tuple[Bound, Bound]

SEED_RANGE: Range = (0, 2**63 - 1)   # every seed: a non-negative int64 (torch.Generator.manual_seed)


def is_integer_range(lo: Bound, hi: Bound) -> bool:
    """True when both ends are ``int``: the setting takes whole numbers only."""
    return isinstance(lo, int) and isinstance(hi, int)


def format_range(lo: Bound, hi: Bound) -> str:
    """``"1..16"``, ``"0.25..4"``, ``"1e-08..1"`` (integers exactly, other numbers in ``%g``)."""
    return f"{_bound(lo)}..{_bound(hi)}"


def _bound(x: Bound) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def range_problem(value: Any, lo: Bound, hi: Bound) -> str | None:
    """``None`` when ``value`` is a number in ``lo..hi`` (a whole number for an integer range), else the
    message's tail, e.g. ``"must be an integer in 1..16, got 0"``."""
    integer = is_integer_range(lo, hi)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and lo <= value <= hi and (not integer or float(value).is_integer())
    if ok:
        return None
    return f"must be {'an integer' if integer else 'a number'} in {format_range(lo, hi)}, got {value!r}"


def check_number(name: str, value: Any, lo: Bound, hi: Bound, what: str | None = None) -> int | float:
    """``value`` checked against ``lo..hi`` and returned as ``int`` (integer range) or ``float``.

    Raises:
        InputError: ``"<what or name> must be an integer in lo..hi, got <value>"``.
    """
    problem = range_problem(value, lo, hi)
    if problem:
        raise InputError(f"{what or name} {problem}")
    return int(value) if is_integer_range(lo, hi) else float(value)


def check_in(ranges: dict[str, Range], name: str, value: Any, what: str | None = None) -> int | float:
    """:func:`check_number` with the range ``ranges[name]`` (a config module's public table)."""
    lo, hi = ranges[name]
    return check_number(name, value, lo, hi, what)
