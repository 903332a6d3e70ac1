"""How long training iterations take: the work of one iteration at a scale, and the rate that turns work into
seconds, fitted to measured seconds per iteration.

An iteration at scale ``n`` costs a fixed overhead (Python, kernel launches, the optimiser steps: what dominates
the coarsest scales on a CPU) plus a part proportional to the convolutions' multiply-adds, which grow with the
scale's pixels and the square of its width (``nfc``). :class:`RateModel` is ``s_per_it = overhead_s +
s_per_work * work``; :func:`fit_rate` fits it to measured ``(work, s_per_it)`` points (a run's finished scales,
a short calibration, or past runs), so the remaining scales are weighted by their cost, not by their count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

NFC_EXPONENT = 1.3  # seconds grow with the width as nfc^1.3, not nfc^2, on a CPU (timed at 16-128 px, nfc 32/64)
# With a single measured scale the split between overhead and work is unknown; we then assume the overhead is that
# of a 32 x 32 px scale at nfc 32 (the trainer timed at 16 x 20 to 52 x 64 px, 1 thread: ~7 ms + 3.2 ms per 1000
# work units, i.e. a fixed part worth a 2-4k px scale at nfc 32; 32 x 32 px keeps the estimate on the safe side).
PRIOR_OVERHEAD_WORK = 32 * 32 * 32 ** NFC_EXPONENT
SPREAD_FOR_SLOPE = 16.0  # the work ratio the measured scales must span before the overhead is fitted too


def scale_work(size: Sequence[int], nfc: int) -> float:
    """The work of one training iteration at a scale of ``size = (h, w)`` px and width ``nfc``:
    ``h * w * nfc ** 1.3`` (the convolutions' multiply-adds grow as nfc^2, but wider layers run more efficiently;
    the exponent is fitted to CPU timings of the trainer). Only ratios matter."""
    return float(int(size[0]) * int(size[1])) * float(nfc) ** NFC_EXPONENT


@dataclass(frozen=True)
class RateModel:
    """Seconds per training iteration as ``overhead_s + s_per_work * work`` (both >= 0)."""

    overhead_s: float
    s_per_work: float

    def s_per_it(self, work: float) -> float:
        return self.overhead_s + self.s_per_work * work

    @property
    def overhead_work(self) -> float:
        """The overhead expressed as work (what :func:`fit_rate` assumes for a single measured scale)."""
        return self.overhead_s / self.s_per_work if self.s_per_work > 0 else PRIOR_OVERHEAD_WORK

    def seconds(self, works: Sequence[float], niter: int) -> float:
        """Seconds for ``niter`` iterations at each scale of ``works``."""
        return float(niter) * sum(self.s_per_it(w) for w in works)


def fit_rate(points: Sequence[tuple[float, float]], overhead_work: float = PRIOR_OVERHEAD_WORK,
             min_spread: float = SPREAD_FOR_SLOPE) -> RateModel | None:
    """The rate model of measured ``(work, s_per_it)`` points, ``None`` without a usable point.

    While the points span less than ``min_spread`` (default :data:`SPREAD_FOR_SLOPE`) in work (one point, or
    the first few, close scales: a slope fitted to them would be mostly noise), the overhead is taken to be ``overhead_work``'s share
    (default :data:`PRIOR_OVERHEAD_WORK`; a calibration of this machine knows better,
    :attr:`RateModel.overhead_work`) and only the rate is fitted. Beyond that: least squares of
    ``s = a + b * work``, clamped to ``a, b >= 0`` (a deliberate measurement at two distant scales, such as a
    calibration, passes ``min_spread=1``).
    """
    pts = [(float(w), float(s)) for w, s in points
           if math.isfinite(w) and math.isfinite(s) and w > 0 and s > 0]
    if not pts:
        return None
    works = [w for w, _ in pts]
    if max(works) < min_spread * min(works) or len(set(works)) == 1:
        b = sum(s * (w + overhead_work) for w, s in pts) / sum((w + overhead_work) ** 2 for w, _ in pts)
        return RateModel(b * overhead_work, b)
    n = len(pts)
    mw = sum(works) / n
    ms = sum(s for _, s in pts) / n
    var = sum((w - mw) ** 2 for w in works)
    b = sum((w - mw) * (s - ms) for w, s in pts) / var
    a = ms - b * mw
    if b <= 0:
        return RateModel(ms, 0.0)
    if a < 0:
        return RateModel(0.0, sum(w * s for w, s in pts) / sum(w * w for w in works))
    return RateModel(a, b)


# remaining_from_prior: how much of a whole model's predicted time the calibration counts as, against the pace
# measured so far (0.25: after a quarter of the model the two weigh the same, so one slow scale - another job
# starting - does not swing the ETA; measured on this 2-core machine: bench "Time to a model").
PRIOR_TRUST = 0.25


def remaining_seconds(works: Sequence[float], niter: int, scale: int, iteration: int,
                      measured: Sequence[tuple[float, float]],
                      overhead_work: float = PRIOR_OVERHEAD_WORK) -> float | None:
    """Seconds left for a model at ``iteration`` of ``niter`` on 0-based ``scale`` of the scales ``works``, from
    the ``measured`` ``(work, s_per_it)`` points of this run (finished scales and the current one). ``None``
    without a measurement. ``overhead_work``: as in :func:`fit_rate`."""
    rate = fit_rate(measured, overhead_work)
    if rate is None:
        return None
    current = [s for w, s in measured if w == works[scale]]
    here = current[-1] if current else rate.s_per_it(works[scale])
    left = max(niter - iteration, 0) * here
    return left + rate.seconds(works[scale + 1:], niter)


def remaining_from_prior(works: Sequence[float], niter: int, scale: int, iteration: int,
                         spent: Sequence[tuple[float, float, int]], prior: RateModel,
                         trust: float = PRIOR_TRUST) -> float:
    """Seconds left, from a calibration of this machine (``prior``) corrected by this run's own pace.

    ``spent``: ``(work, s_per_it, iterations)`` of every finished scale and of the current one. The prior's
    remaining time is multiplied by the run's pace relative to the prior, ``(measured + T) / (predicted + T)``
    over the time spent so far, where ``T`` = ``trust`` x the prior's whole model: until the run has spent a
    good share of its time the calibration's shape and level dominate (the first, smallest scales are mostly
    fixed cost and warm-up, and extrapolate badly), then the measured pace takes over (e.g. a machine that got
    busier)."""
    measured = sum(s * it for _, s, it in spent if math.isfinite(s) and s > 0)
    predicted = sum(prior.s_per_it(w) * it for w, s, it in spent if math.isfinite(s) and s > 0)
    t = trust * prior.seconds(works, niter)
    pace = (measured + t) / (predicted + t) if predicted + t > 0 else 1.0
    left = prior.s_per_it(works[scale]) * max(niter - iteration, 0) + prior.seconds(works[scale + 1:], niter)
    return pace * left


__all__ = ["NFC_EXPONENT", "PRIOR_OVERHEAD_WORK", "PRIOR_TRUST", "RateModel", "fit_rate", "remaining_from_prior",
           "remaining_seconds", "scale_work"]
