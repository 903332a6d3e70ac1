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

# With a single measured scale the split between overhead and work is unknown; we then assume the overhead is
# that of this much work: a 24 x 24 px scale at nfc 32 (CPU timings of one scale, threads 1, at 15 x 20 to 96 x 128 px
# fit s_per_it = 40 ms + 2.9 ns x work; 40 ms is the time of about 14 M work units).
PRIOR_OVERHEAD_WORK = 24 * 24 * 9 * 32 * (2 * 4 + 3 * 32)


def scale_work(size: Sequence[int], nfc: int, nc: int = 4, num_layer: int = 5, ker_size: int = 3) -> float:
    """Multiply-adds of one pass of a scale's generator (the discriminator's is about the same), per iteration
    unit: ``h * w * k^2 * nfc * (2 nc + (num_layer - 2) nfc)``. Only ratios matter."""
    h, w = int(size[0]), int(size[1])
    return float(h * w * ker_size * ker_size * nfc * (2 * nc + (num_layer - 2) * nfc))


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


def fit_rate(points: Sequence[tuple[float, float]], overhead_work: float = PRIOR_OVERHEAD_WORK) -> RateModel | None:
    """The rate model of measured ``(work, s_per_it)`` points, ``None`` without a usable point.

    One point (or points of one work): the overhead is assumed to be ``overhead_work``'s share (default
    :data:`PRIOR_OVERHEAD_WORK`; a calibration of this machine knows better, :attr:`RateModel.overhead_work`).
    Several: least squares of ``s = a + b * work``, clamped to ``a, b >= 0`` (then refitted with the other alone).
    """
    pts = [(float(w), float(s)) for w, s in points
           if math.isfinite(w) and math.isfinite(s) and w > 0 and s > 0]
    if not pts:
        return None
    n = len(pts)
    mw = sum(w for w, _ in pts) / n
    ms = sum(s for _, s in pts) / n
    var = sum((w - mw) ** 2 for w, _ in pts)
    if var <= (1e-6 * mw) ** 2:
        b = ms / (mw + overhead_work)
        return RateModel(b * overhead_work, b)
    b = sum((w - mw) * (s - ms) for w, s in pts) / var
    a = ms - b * mw
    if b <= 0:
        return RateModel(ms, 0.0)
    if a < 0:
        return RateModel(0.0, sum(w * s for w, s in pts) / sum(w * w for w, _ in pts))
    return RateModel(a, b)


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


__all__ = ["PRIOR_OVERHEAD_WORK", "RateModel", "fit_rate", "remaining_seconds", "scale_work"]
