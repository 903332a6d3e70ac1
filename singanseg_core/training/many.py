"""Train a whole dataset: one SinGAN-Seg model per image pair, K at a time (batched), locally or on Ray.

``train_many`` plans the work, an executor runs it:

1. **plan** — list the Kvasir-SEG pairs, skip finished checkpoints, check partial ones (same content and
   settings, else the model fails with the reason), give every model its own seed (:func:`model_seed`), and
   cut the rest into groups of up to K models that share one pyramid shape and the same number of already
   finished scales (``groups.make_groups``);
2. **run** — each group is one call of ``groups.run_group`` (``fit.train_group``), which writes every model's
   checkpoint after every scale, so a killed group resumes where it stopped and a finished model is never
   trained again (see ``executors``).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from ..errors import Cancelled, InputError, SinGANSegError
from ..files.pairs import find_pairs, load_pair
from ..model.config import is_finished_checkpoint
from .checkpoints import clear_checkpoint, resume_point
from .config import TrainConfig
from .executors import Executor, get_executor
from .fit import pyramid_key, schedule_for
from .groups import EventFn, GroupTask, ModelEvent, ModelJob, make_groups
from .memory import estimate_model_bytes


def model_seed(seed: int, stem: str) -> int:
    """Per-model seed: the first 4 bytes (little-endian) of ``sha256(f"{seed}:{stem}")``, masked to 31 bits.

    It depends only on the run's seed and the image stem, so a model gets the same seed whatever its
    group, its position in the dataset or the machine that trains it.
    """
    return int.from_bytes(hashlib.sha256(f"{seed}:{stem}".encode()).digest()[:4], "little") & 0x7FFFFFFF


@dataclass
class TrainManySummary:
    """Outcome of :func:`train_many`. ``failed`` maps stem → reason."""

    trained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    groups: list[list[str]] = field(default_factory=list)
    executor: str = "local"
    seconds: float = 0.0

    def describe(self) -> str:
        lines = [f"trained {len(self.trained)}, skipped {len(self.skipped)} (already finished), "
                 f"failed {len(self.failed)} in {self.seconds:.1f} s with {len(self.groups)} group(s) "
                 f"on the {self.executor} executor"]
        lines += [f"  failed {stem}: {why}" for stem, why in sorted(self.failed.items())]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- planning
def plan_jobs(data_dir: str | os.PathLike, out_dir: str | os.PathLike, config: TrainConfig,
              overwrite: bool = False) -> tuple[list[ModelJob], list[str], dict[str, str]]:
    """Jobs to run for a Kvasir-SEG folder, stems already finished, and stems that cannot be trained (→ reason)."""
    entries = [(stem, image, mask, Path(out_dir) / stem) for stem, image, mask in find_pairs(data_dir)]
    return plan_entries(entries, config, overwrite)


Entry = tuple  # (name, image path, mask path, checkpoint folder)


def plan_entries(entries: Sequence[Entry], config: TrainConfig, overwrite: bool = False,
                 derive_seeds: bool = True) -> tuple[list[ModelJob], list[str], dict[str, str]]:
    """Like :func:`plan_jobs` for explicit ``(name, image, mask, out_dir)`` entries.

    ``derive_seeds=False`` trains every model with ``config.seed`` itself (as ``singanseg train`` does).
    """
    names = [e[0] for e in entries]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"model names must be unique; repeated: {', '.join(dupes)}")
    jobs: list[ModelJob] = []
    skipped: list[str] = []
    failed: dict[str, str] = {}
    for stem, image, mask, dest in entries:
        dest = Path(dest)
        if is_finished_checkpoint(dest) and not overwrite:
            skipped.append(stem)
            continue
        cfg = replace(config, seed=model_seed(config.seed, stem)) if derive_seeds else config
        try:
            pair = load_pair(image, mask, name=stem)
            schedule = schedule_for(pair, cfg)
        except SinGANSegError as err:
            failed[stem] = str(err)
            continue
        if overwrite:
            clear_checkpoint(dest)
        try:
            done = resume_point(dest, pair, cfg, resume=True, overwrite=False)
        except SinGANSegError as err:
            failed[stem] = str(err)
            continue
        jobs.append(ModelJob(stem, str(image), str(mask), str(dest), cfg.to_dict(), schedule.num_scales,
                             pyramid_key(schedule), done))
    return jobs, skipped, failed



# ---------------------------------------------------------------------------------------------- API
def train_many(data_dir: str | os.PathLike, out_dir: str | os.PathLike, config: TrainConfig | None = None,
               parallel: "int | str" = 1, executor: "str | Executor" = "local", progress: EventFn | None = None,
               device: str = "auto", overwrite: bool = False, address: str | None = None,
               max_parallel: int = 64, log_every: int = 10, prior: str | None = None,
               prior_pair: str | None = None, finetune_iters: int | None = None) -> TrainManySummary:
    """Train one model per pair of a Kvasir-SEG folder into ``<out_dir>/<stem>``.

    Args:
        config: settings shared by every model; each model's seed is ``model_seed(config.seed, stem)``.
        parallel: K models per batched group, or ``"auto"`` (as many as fit in 70 % of the free memory
            of a task's device, at most ``max_parallel``; see ``memory.estimate_model_bytes``).
        executor: ``"local"`` (default), ``"ray"`` (with ``address``, else a local Ray) or an executor.
        progress: called with a :class:`ModelEvent` per model event; returning ``False`` cancels
            (raises ``Cancelled``; finished scales stay saved and a rerun resumes).
        overwrite: retrain models whose folder already holds a finished checkpoint.
        prior: warm start (``training.prior``): a checkpoint folder every model starts from, or ``"auto"``: the
            first pair (``prior_pair``: the one of that stem) is trained as usual into its folder, and its
            model is the prior of all the others.
        finetune_iters: iterations per scale of the warm-started models (default: the config's).
    Returns:
        :class:`TrainManySummary` (trained / skipped / failed with reasons).
    """
    out = Path(out_dir)
    entries = [(stem, image, mask, out / stem) for stem, image, mask in find_pairs(data_dir)]
    out.mkdir(parents=True, exist_ok=True)
    run = dict(parallel=parallel, executor=executor, progress=progress, device=device, overwrite=overwrite,
               address=address, max_parallel=max_parallel, log_every=log_every)
    if prior is None:
        if prior_pair is not None or finetune_iters is not None:
            raise InputError("--prior-pair and --finetune-iters need --prior")
        return train_pairs(entries, config, **run)
    cfg = config or TrainConfig()
    first = None
    if prior == "auto":
        stems = [e[0] for e in entries]
        if not entries:
            raise InputError(f"{data_dir}: no image/mask pairs to train a prior on")
        if prior_pair is not None and prior_pair not in stems:
            raise InputError(f"--prior-pair {prior_pair!r} is not a pair of {data_dir}")
        first = entries[stems.index(prior_pair) if prior_pair is not None else 0]
        entries = [e for e in entries if e is not first]
        prior = str(first[3])
    elif prior_pair is not None:
        raise InputError("--prior-pair names the pair to train the prior on; it needs --prior auto")
    tuned = replace(cfg, init_from=str(prior), niter=finetune_iters or cfg.niter).validated()
    if first is None:
        return train_pairs(entries, tuned, **run)
    summary = train_pairs([first], cfg, **run)
    if summary.failed:
        why = f"its prior {first[0]} failed"
        summary.failed.update({e[0]: why for e in entries})
        return summary
    rest = train_pairs(entries, tuned, **run)
    return TrainManySummary(summary.trained + rest.trained, summary.skipped + rest.skipped,
                            {**summary.failed, **rest.failed}, summary.groups + rest.groups, rest.executor,
                            summary.seconds + rest.seconds)


def train_pairs(entries: Sequence[Entry], config: TrainConfig | None = None, parallel: "int | str" = 1,
                executor: "str | Executor" = "local", progress: EventFn | None = None, device: str = "auto",
                overwrite: bool = False, address: str | None = None, max_parallel: int = 64,
                log_every: int = 10, derive_seeds: bool = True) -> TrainManySummary:
    """:func:`train_many` for explicit ``(name, image, mask, out_dir)`` entries (e.g. the dashboard's
    workspace, where checkpoint folders are named by the user). Events and summary use ``name``."""
    t0 = time.perf_counter()
    cfg = config or TrainConfig()
    k: "int | Callable[[ModelJob], int]" = 1
    if parallel != "auto":
        try:
            k = int(parallel)
        except (TypeError, ValueError):
            raise InputError(f"--parallel must be a positive integer or 'auto', got {parallel!r}") from None
        if k < 1:
            raise InputError(f"--parallel must be at least 1, got {k}")
    ex = get_executor(executor, address)
    jobs, skipped, failed = plan_entries(entries, cfg, overwrite, derive_seeds)
    summary = TrainManySummary(skipped=skipped, failed=dict(failed), executor=ex.name)

    def send(ev: ModelEvent) -> None:
        if progress is not None and progress(ev) is False:
            raise Cancelled("training cancelled")

    for stem in skipped:
        send(ModelEvent(stem, "skipped"))
    for stem, why in failed.items():
        send(ModelEvent(stem, "failed", message=why))

    if parallel == "auto":
        free = ex.free_memory(device) if jobs else 0

        def pick(job: ModelJob) -> int:
            per_model = estimate_model_bytes(TrainConfig.from_dict(job.config), job.pyramid[0])
            return max(1, min(max_parallel, int(free * 0.7 // per_model)))
        k = pick
    groups = make_groups(jobs, k)
    summary.groups = [[j.stem for j in g] for g in groups]
    tasks = [GroupTask(i, tuple(g), device, log_every) for i, g in enumerate(groups)]
    for res in ex.run(tasks, progress):
        summary.trained += res.finished
        summary.failed.update(res.failed)
        if ex.name != "local":  # the local executor reported these as they happened
            for stem in res.finished:
                send(ModelEvent(stem, "finished", group=res.index))
        for stem, why in res.failed.items():
            send(ModelEvent(stem, "failed", message=why, group=res.index))
    summary.seconds = time.perf_counter() - t0
    return summary
