"""This machine's own time estimates, from its past runs kept in the workspace (``timings.json``).

A run records how long it took for how much work (``units``: e.g. images x optimiser steps) under a setting
key (e.g. the processing size and optimiser: runs with other settings take other times per unit). The estimate
of a new run is the median time per unit of the last :data:`KEPT_RUNS` runs with the same kind and key, times
its units. It says how many runs it comes from; a machine busy with other work is slower than its past runs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..files.atomic import atomic_write_json
from ..files.bounded_json import read_json
from .workspace import Workspace

TIMINGS_FILE = "timings.json"
KEPT_RUNS = 20          # runs kept per kind and key (the oldest go first)
MAX_KEYS = 64           # kind/key pairs kept at most (a file that grew past it starts again)
MAX_TIMINGS_BYTES = 256 * 1024


@dataclass(frozen=True)
class Estimate:
    """``seconds``: the estimated wall time of the new run; ``runs``: how many past runs it comes from;
    ``low``/``high``: the fastest and slowest of those runs scaled to the new run's units (seconds)."""

    seconds: float
    runs: int
    low: float
    high: float


def _slot(kind: str, key: str) -> str:
    return f"{kind}|{key}"


def _read(ws: Workspace) -> dict[str, list[list[float]]]:
    path = ws.root / TIMINGS_FILE
    try:
        data = read_json(path, MAX_TIMINGS_BYTES) if path.is_file() else {}
    except Exception:  # noqa: BLE001 - a damaged record only loses the estimates
        return {}
    if not isinstance(data, dict):
        return {}
    clean: dict[str, list[list[float]]] = {}
    for slot, runs in list(data.items())[:MAX_KEYS]:
        if isinstance(runs, list):
            clean[str(slot)] = [[float(r[0]), float(r[1])] for r in runs[-KEPT_RUNS:]
                                if isinstance(r, list) and len(r) >= 2
                                and all(isinstance(x, (int, float)) for x in r[:2]) and r[0] > 0 and r[1] >= 0]
    return clean


def record_run(ws: Workspace, kind: str, key: str, units: float, seconds: float) -> None:
    """Keep that a ``kind`` run with setting ``key`` did ``units`` of work in ``seconds`` (wall time)."""
    if not units > 0 or not seconds >= 0:
        return
    data = _read(ws)
    slot = _slot(kind, key)
    if slot not in data and len(data) >= MAX_KEYS:
        data = {}
    data[slot] = (data.get(slot, []) + [[float(units), round(float(seconds), 3)]])[-KEPT_RUNS:]
    atomic_write_json(ws.root / TIMINGS_FILE, data)


def estimate(ws: Workspace, kind: str, key: str, units: float) -> Estimate | None:
    """This machine's estimate of a ``kind`` run with setting ``key`` and ``units`` of work, or ``None`` before
    its first such run."""
    runs = _read(ws).get(_slot(kind, key), [])
    if not runs or not units > 0:
        return None
    per_unit = [s / u for u, s in runs]
    return Estimate(statistics.median(per_unit) * units, len(runs), min(per_unit) * units, max(per_unit) * units)


def describe(est: Estimate | None, what: str) -> str:
    """One sentence for people: how long ``what`` took here before, or that no run has been timed yet."""
    if est is None:
        return (f"No time estimate for {what} yet: the first run on this machine is timed and later runs show "
                "an estimate from it.")
    spread = (f" (between {duration(est.low)} and {duration(est.high)} in those runs)"
              if est.runs > 1 and est.high > est.low * 1.2 else "")
    return (f"On this machine {what} takes about {duration(est.seconds)}, from its last {est.runs} similar "
            f"run{'s' if est.runs != 1 else ''}{spread}; longer while other work keeps the machine busy.")


def duration(seconds: float) -> str:
    """``seconds`` for people: "8 s", "2.5 min", "1.2 h"."""
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


STYLE_PREVIEW, STYLE_BATCH = "style-preview", "style-batch"   # the kinds of runs timed so far


def style_key(size: int | None, optimizer: str) -> str:
    """The setting key of a style-transfer run: its processing size (px, or native) and optimiser; the time per
    image and step depends on both (and on the images' own size when native)."""
    return f"{int(size)}px-{optimizer}" if size else f"native-{optimizer}"
