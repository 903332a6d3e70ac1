"""A group of models trained together (one batched computation), as plain data that can travel to a worker,
and :func:`run_group`, which trains it: the unit of work of every executor."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import Cancelled, SinGANSegError
from ..files.pairs import load_pair
from ..model.config import is_finished_checkpoint
from .checkpoints import resume_point
from .config import TrainConfig
from .fit import TrainItem, train_group
from .trainer import TrainProgress


@dataclass(frozen=True)
class ModelJob:
    """One model to train (plain data, so it can travel to a Ray worker)."""

    stem: str
    image: str
    mask: str
    out_dir: str
    config: dict                 # TrainConfig.to_dict() with seed = model_seed(run seed, stem)
    num_scales: int
    pyramid: tuple               # fit.pyramid_key(schedule): ((h, w) per scale, scale factor)
    start_scale: int = 0         # scales already in a partial checkpoint


@dataclass(frozen=True)
class GroupTask:
    """A group of jobs trained together as one batched computation."""

    index: int
    jobs: tuple[ModelJob, ...]
    device: str = "auto"
    log_every: int = 10


@dataclass
class GroupResult:
    index: int
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class ModelEvent:
    """What a ``train_many`` progress callback receives, one model at a time.

    ``kind``: ``"skipped"`` (already finished), ``"failed"`` (``message`` says why), ``"started"``,
    ``"iteration"`` (every ``log_every`` iterations, with ``losses``), ``"scale_done"`` or ``"finished"``.
    ``s_per_it`` / ``eta_s``: seconds per iteration on this scale and seconds left for the model (from its
    training record; ``None`` until known).
    """

    stem: str
    kind: str
    scale: int = 0
    num_scales: int = 0
    iteration: int = 0
    niter: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    message: str = ""
    group: int = -1
    s_per_it: float | None = None
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        """This model's progress in [0, 1]."""
        if self.kind in ("finished", "skipped"):
            return 1.0
        if self.kind == "scale_done":
            return (self.scale + 1) / max(self.num_scales, 1)
        return (self.scale + self.iteration / max(self.niter, 1)) / max(self.num_scales, 1)


EventFn = Callable[[ModelEvent], "bool | None"]


def make_groups(jobs: Sequence[ModelJob], parallel: int | Callable[[ModelJob], int]) -> list[list[ModelJob]]:
    """Bucket jobs by (pyramid shape, finished scales), then cut each bucket into groups of at most K.

    ``parallel`` is K, or a function giving K for a bucket's first job (``--parallel auto``).
    Buckets are emitted largest first; jobs keep dataset order within a bucket.
    """
    buckets: dict[tuple, list[ModelJob]] = defaultdict(list)
    for job in jobs:
        buckets[(job.pyramid, job.start_scale)].append(job)
    groups = []
    for members in sorted(buckets.values(), key=len, reverse=True):
        k = parallel(members[0]) if callable(parallel) else int(parallel)
        k = max(1, k)
        if members[0].config.get("schedule") == "concurrent":
            k = 1  # the concurrent schedule trains one model at a time (fit.train_group)
        groups += [members[i:i + k] for i in range(0, len(members), k)]
    return groups



# ---------------------------------------------------------------------------------------------- one group
def run_group(task: GroupTask, emit: EventFn | None = None) -> GroupResult:
    """Train one group: re-check every checkpoint (a retried task skips finished models and resumes
    partial ones), then ``fit.train_group`` per sub-group of equal progress. A CUDA out-of-memory
    error splits the sub-group in two and tries again. Cancellation (``emit`` returning ``False``)
    raises ``Cancelled``; any other error fails that sub-group's models with the reason."""
    import torch

    t0 = time.perf_counter()
    result = GroupResult(task.index)
    pending: dict[int, list[TrainItem]] = defaultdict(list)
    by_name: dict[str, ModelJob] = {}
    for job in task.jobs:
        if is_finished_checkpoint(job.out_dir):
            result.finished.append(job.stem)  # finished by an earlier attempt of this task
            continue
        try:
            cfg = TrainConfig.from_dict(job.config)
            pair = load_pair(job.image, job.mask, name=job.stem)
            done = resume_point(Path(job.out_dir), pair, cfg, resume=True, overwrite=False)
        except SinGANSegError as err:
            result.failed[job.stem] = str(err)
            continue
        by_name[job.stem] = job
        pending[done].append(TrainItem(pair, Path(job.out_dir), cfg, name=job.stem))

    def send(ev: ModelEvent) -> None:
        if emit is not None and emit(ev) is False:
            raise Cancelled(f"training cancelled ({ev.stem}, scale {ev.scale})")

    def on_batch(ev: TrainProgress) -> bool:
        for i, name in enumerate(ev.names):
            kind = "scale_done" if ev.scale_done else "iteration"
            send(ModelEvent(name, kind, ev.scale, ev.num_scales, ev.iteration, ev.niter,
                            ev.losses[i] if ev.losses else {}, group=task.index, s_per_it=ev.s_per_it,
                            eta_s=ev.eta_s))
        return True

    def train(items: list[TrainItem], start: int) -> None:
        for it in items:  # "started" names the scale it starts at and its iterations (never "0/0")
            job = by_name[it.model_name]
            send(ModelEvent(job.stem, "started", start, job.num_scales, 0, it.config.niter, group=task.index,
                            message=f"group of {len(items)}"))
        try:
            train_group(items, device=task.device, progress=on_batch, resume=True, log_every=task.log_every)
        except torch.cuda.OutOfMemoryError:
            if len(items) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(items) // 2
            train(items[:half], start)
            train(items[half:], start)
            return
        for it in items:
            result.finished.append(it.model_name)
            send(ModelEvent(it.model_name, "finished", by_name[it.model_name].num_scales - 1,
                            by_name[it.model_name].num_scales, it.config.niter, it.config.niter, group=task.index))

    for start, items in sorted(pending.items()):
        try:
            train(items, start)
        except Cancelled:
            raise
        except (SinGANSegError, RuntimeError, OSError, ValueError) as err:
            for it in items:
                if it.model_name not in result.finished:
                    result.failed[it.model_name] = f"{err.__class__.__name__}: {err}"
    result.seconds = time.perf_counter() - t0
    return result
