"""Bounded work for dashboard visitors: estimate a sampling request before running it, and decide.

A page asks once, before sampling::

    with budget.sampling_guard([model.config], n=64, scale_h=3, scale_v=3, redraw_empty=8,
                               visitor=policy.classroom and not unlocked, session=my_budget, on_wait=st.info):
        samples = model.sample(...)

and gets either a one-line ``InputError`` (naming the cap and how to ask less) or the run, inside one of the
server's :data:`MAX_HEAVY_ENV` slots when the request is heavy. The estimate (:func:`estimate_sampling`):

* **work** in pixel draws = Σ over checkpoints of samples x output pixels (finest size x ``scale_v`` x
  ``scale_h``) x (1 + ``redraw_empty``), the worst case of redrawing;
* **peak memory** (bytes) = the largest of the checkpoints' weights + a batch of the widest scale's feature maps
  (``batch x nfc x h x w x 4 B x 3`` live maps) + the finished samples kept (``n x H x W x 4 channels x 4 B``).

Caps come from the operator's environment; locked visitors (classroom mode, not unlocked) get lower ones. The
CLI is the operator's and is not capped (it may share :func:`estimate_sampling`).
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..errors import InputError

MAX_WORK_ENV, VISITOR_WORK_ENV, MAX_MEMORY_ENV, VISITOR_MEMORY_ENV, MAX_HEAVY_ENV, SESSION_WORK_ENV = (
    "SINGANSEG_MAX_SAMPLE_WORK", "SINGANSEG_VISITOR_SAMPLE_WORK", "SINGANSEG_MAX_SAMPLE_MEMORY_MB",
    "SINGANSEG_VISITOR_SAMPLE_MEMORY_MB", "SINGANSEG_MAX_HEAVY", "SINGANSEG_SESSION_SAMPLE_WORK")
DEFAULT_MAX_WORK = 2_000_000_000      # pixel draws: ~32k samples of 250x250 px (minutes on a GPU)
DEFAULT_VISITOR_WORK = 8_000_000      # ~128 samples of 250x250 px (under a minute on a CPU)
DEFAULT_MAX_MEMORY_MB = 16_384
DEFAULT_VISITOR_MEMORY_MB = 2_048
DEFAULT_MAX_HEAVY = 2                 # heavy requests the server runs at once
DEFAULT_SESSION_WORK = 40_000_000     # pixel draws one session may ask for per hour
SESSION_WINDOW_S = 3600.0
HEAVY_WORK = 1_000_000                # requests above this many pixel draws take a heavy slot
DEFAULT_WAIT_S = 60.0                 # how long a heavy request waits for a slot before it is refused
DEFAULT_BATCH = 64                    # the GPU batch (the larger of the sampler's defaults): memory's worst case
LIVE_MAPS = 3                         # feature maps alive at once in one generator forward


@dataclass(frozen=True)
class SamplingEstimate:
    """``work`` (pixel draws), ``peak_bytes`` (estimated peak memory), ``heavy`` (takes a server slot)."""

    work: int
    peak_bytes: int
    checkpoints: int
    samples: int

    @property
    def heavy(self) -> bool:
        return self.work > HEAVY_WORK


@dataclass(frozen=True)
class BudgetCaps:
    """The caps of one kind of user: ``max_work`` (pixel draws per request), ``max_memory_bytes`` (estimated peak
    per request), ``session_work`` (pixel draws per session per :data:`SESSION_WINDOW_S`)."""

    max_work: int
    max_memory_bytes: int
    session_work: int


def _env_int(environ: Mapping[str, str], name: str, default: int, lo: int = 1, hi: int = 10**15) -> int:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a whole number") from None
    if not lo <= value <= hi:
        raise InputError(f"{name}={raw!r} must be in {lo}..{hi}")
    return value


def caps_from_env(visitor: bool, environ: Mapping[str, str] = os.environ) -> BudgetCaps:
    """The operator's caps (``visitor=False``) or the lower ones of locked visitors; a visitor cap is never above
    the operator's. Raises ``InputError`` for a malformed variable."""
    work = _env_int(environ, MAX_WORK_ENV, DEFAULT_MAX_WORK)
    memory = _env_int(environ, MAX_MEMORY_ENV, DEFAULT_MAX_MEMORY_MB) * 2**20
    session = _env_int(environ, SESSION_WORK_ENV, DEFAULT_SESSION_WORK)
    if not visitor:
        return BudgetCaps(work, memory, 10**15)
    return BudgetCaps(min(work, _env_int(environ, VISITOR_WORK_ENV, DEFAULT_VISITOR_WORK)),
                      min(memory, _env_int(environ, VISITOR_MEMORY_ENV, DEFAULT_VISITOR_MEMORY_MB) * 2**20),
                      session)


def _sizes(config: Any) -> tuple[list[tuple[int, int]], list[int], int]:
    cfg = getattr(config, "config", config)  # a SinGANSeg or its ModelConfig
    sizes = [(int(h), int(w)) for h, w in cfg.sizes]
    nfc = [int(c) for c in cfg.nfc]
    if not sizes or len(nfc) != len(sizes):
        raise InputError("a checkpoint without scales cannot be sampled")
    return sizes, nfc, int(cfg.num_layer)


def estimate_sampling(configs: Sequence[Any], n: int, scale_h: float = 1.0, scale_v: float = 1.0,
                      redraw_empty: int = 0, batch_size: int | None = None) -> SamplingEstimate:
    """The work and peak memory of sampling ``n`` samples from each of ``configs`` (``ModelConfig`` or
    ``SinGANSeg``) at ``scale_h`` x ``scale_v`` with up to ``redraw_empty`` redraws (see the module docstring)."""
    n, redraws = max(0, int(n)), max(0, int(redraw_empty))
    batch = min(n, int(batch_size or DEFAULT_BATCH))
    work, peak = 0, 0
    for config in configs:
        sizes, nfc, layers = _sizes(config)
        h, w = (round(sizes[-1][0] * scale_v), round(sizes[-1][1] * scale_h))
        work += n * h * w * (1 + redraws)
        weights = sum(layers * c * c * 9 * 4 for c in nfc)  # 3x3 convolutions, float32
        maps = max(batch * c * round(sh * scale_v) * round(sw * scale_h) * 4 * LIVE_MAPS
                   for (sh, sw), c in zip(sizes, nfc))
        peak = max(peak, weights + maps + n * h * w * 4 * 4)
    return SamplingEstimate(work, peak, len(configs), n)


@dataclass
class SessionBudget:
    """Pixel draws one browser session was granted within the last :data:`SESSION_WINDOW_S` (thread-safe)."""

    spent: list[tuple[float, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def used(self, now: float) -> int:
        with self._lock:
            self.spent = [(t, w) for t, w in self.spent if now - t < SESSION_WINDOW_S]
            return sum(w for _, w in self.spent)

    def charge(self, work: int, cap: int, now: float) -> None:
        """Record ``work`` or raise ``InputError`` when it would pass ``cap`` in the window."""
        used = self.used(now)
        if used + work > cap:
            left = max(0, cap - used)
            raise InputError(f"this session has used {used:,} of its {cap:,} pixel draws this hour "
                             f"({SESSION_WORK_ENV}); ask for at most {left:,} or wait")
        with self._lock:
            self.spent.append((now, work))


def decide(estimate: SamplingEstimate, caps: BudgetCaps) -> str | None:
    """``None`` when ``estimate`` fits ``caps``, else the one-line refusal naming the cap and how to ask less."""
    if estimate.work > caps.max_work:
        per = estimate.work / max(1, estimate.samples)
        fits = int(caps.max_work // per) if per else 0
        return (f"too much work for this server: {estimate.work:,} pixel draws ({estimate.checkpoints} "
                f"checkpoint(s) x {estimate.samples} samples x output pixels x (1 + redraws)); the cap is "
                f"{caps.max_work:,} ({MAX_WORK_ENV}/{VISITOR_WORK_ENV}): ask for at most {fits} samples, fewer "
                "checkpoints, a smaller scale or fewer redraws")
    if estimate.peak_bytes > caps.max_memory_bytes:
        return (f"too much memory for this server: about {estimate.peak_bytes / 2**20:,.0f} MB; the cap is "
                f"{caps.max_memory_bytes / 2**20:,.0f} MB ({MAX_MEMORY_ENV}/{VISITOR_MEMORY_ENV}): ask for fewer "
                "samples or a smaller scale")
    return None


_HEAVY: threading.BoundedSemaphore | None = None
_HEAVY_LOCK = threading.Lock()


def heavy_slots(environ: Mapping[str, str] = os.environ) -> threading.BoundedSemaphore:
    """The process-wide semaphore of heavy requests (:data:`MAX_HEAVY_ENV` slots, read once)."""
    global _HEAVY
    with _HEAVY_LOCK:
        if _HEAVY is None:
            _HEAVY = threading.BoundedSemaphore(_env_int(environ, MAX_HEAVY_ENV, DEFAULT_MAX_HEAVY, 1, 1024))
        return _HEAVY


@contextmanager
def heavy_slot(wait_s: float = DEFAULT_WAIT_S, on_wait: Callable[[str], Any] | None = None,
               slots: threading.BoundedSemaphore | None = None) -> Iterator[None]:
    """Hold one heavy slot while the block runs; when all are taken, tell ``on_wait`` and wait at most
    ``wait_s`` s, then refuse with an ``InputError``."""
    sem = slots or heavy_slots()
    if not sem.acquire(blocking=False):
        if on_wait is not None:
            on_wait("The server is busy with other large requests; yours starts when one finishes.")
        if not sem.acquire(timeout=max(0.0, wait_s)):
            raise InputError(f"the server is still busy with other large requests after {wait_s:.0f} s "
                             f"({MAX_HEAVY_ENV}); try again later or ask for less")
    try:
        yield
    finally:
        sem.release()


@contextmanager
def sampling_guard(configs: Sequence[Any], n: int, scale_h: float = 1.0, scale_v: float = 1.0,
                   redraw_empty: int = 0, batch_size: int | None = None, visitor: bool = True,
                   session: SessionBudget | None = None, on_wait: Callable[[str], Any] | None = None,
                   wait_s: float = DEFAULT_WAIT_S, environ: Mapping[str, str] = os.environ,
                   now: float | None = None, slots: threading.BoundedSemaphore | None = None
                   ) -> Iterator[SamplingEstimate]:
    """Everything a page needs in one call: estimate, refuse (``InputError``, one line) or charge ``session``,
    and run the block (inside a heavy slot when the request is heavy). Yields the estimate."""
    estimate = estimate_sampling(configs, n, scale_h, scale_v, redraw_empty, batch_size)
    caps = caps_from_env(visitor, environ)
    refusal = decide(estimate, caps)
    if refusal:
        raise InputError(refusal)
    if session is not None:
        session.charge(estimate.work, caps.session_work, time.monotonic() if now is None else now)
    if not estimate.heavy:
        yield estimate
        return
    with heavy_slot(wait_s, on_wait, slots):
        yield estimate


__all__ = ["BudgetCaps", "SamplingEstimate", "SessionBudget", "caps_from_env", "decide", "estimate_sampling",
           "heavy_slot", "heavy_slots", "sampling_guard"]
