"""Train a whole dataset: one SinGAN-Seg model per image pair, K at a time (batched), locally or on Ray.

``train_many`` plans the work, an executor runs it:

1. **plan** — list the Kvasir-SEG pairs, skip finished checkpoints, check partial ones (same content and
   settings, else the model fails with the reason), give every model its own seed
   (:func:`model_seed`), and cut the rest into groups of up to K models that share one pyramid shape
   and the same number of already finished scales (see ``batched.pyramid_key``);
2. **run** — each group is one call of :func:`run_group` (``batched.train_batched``), which writes every
   model's checkpoint after every scale, so a killed group resumes where it stopped and a finished
   model is never trained again. :class:`LocalExecutor` runs groups one after another in this process;
   :class:`RayExecutor` runs one Ray task per group (retried on failure) writing to a shared folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

from .config import TrainConfig
from .errors import Cancelled, InputError, SinGANSegError

# Files a checkpoint folder may hold; --overwrite removes exactly these (config.json first).
_CHECKPOINT_FILES = ("config.json", "model.safetensors", "trainer_state.safetensors", "real.png", "real_mask.png")


def model_seed(seed: int, stem: str) -> int:
    """Per-model seed: the first 4 bytes (little-endian) of ``sha256(f"{seed}:{stem}")``, masked to 31 bits.

    It depends only on the run's seed and the image stem, so a model gets the same seed whatever its
    group, its position in the dataset or the machine that trains it.
    """
    return int.from_bytes(hashlib.sha256(f"{seed}:{stem}".encode()).digest()[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class ModelJob:
    """One model to train (plain data, so it can travel to a Ray worker)."""

    stem: str
    image: str
    mask: str
    out_dir: str
    config: dict                 # TrainConfig.to_dict() with seed = model_seed(run seed, stem)
    num_scales: int
    pyramid: tuple               # batched.pyramid_key(schedule): ((h, w) per scale, scale factor)
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

    @property
    def fraction(self) -> float:
        """This model's progress in [0, 1]."""
        if self.kind in ("finished", "skipped"):
            return 1.0
        if self.kind == "scale_done":
            return (self.scale + 1) / max(self.num_scales, 1)
        return (self.scale + self.iteration / max(self.niter, 1)) / max(self.num_scales, 1)


EventFn = Callable[[ModelEvent], "bool | None"]


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
def _clear_checkpoint(path: Path) -> None:
    for name in _CHECKPOINT_FILES:
        (path / name).unlink(missing_ok=True)


def plan_jobs(data_dir: str | os.PathLike, out_dir: str | os.PathLike, config: TrainConfig,
              overwrite: bool = False) -> tuple[list[ModelJob], list[str], dict[str, str]]:
    """Jobs to run for a Kvasir-SEG folder, stems already finished, and stems that cannot be trained (→ reason)."""
    from .data import find_pairs

    entries = [(stem, image, mask, Path(out_dir) / stem) for stem, image, mask in find_pairs(data_dir)]
    return plan_entries(entries, config, overwrite)


Entry = tuple  # (name, image path, mask path, checkpoint folder)


def plan_entries(entries: Sequence[Entry], config: TrainConfig, overwrite: bool = False,
                 derive_seeds: bool = True) -> tuple[list[ModelJob], list[str], dict[str, str]]:
    """Like :func:`plan_jobs` for explicit ``(name, image, mask, out_dir)`` entries.

    ``derive_seeds=False`` trains every model with ``config.seed`` itself (as ``singanseg train`` does).
    """
    from .batched import load_partial, pyramid_key
    from .data import load_pair
    from .scales import compute_schedule
    from .training import is_finished_checkpoint

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
            schedule = compute_schedule(*pair.size, cfg.min_size, cfg.max_size, cfg.scale_factor)
        except SinGANSegError as err:
            failed[stem] = str(err)
            continue
        except ValueError as err:
            failed[stem] = f"{image}: {err}"
            continue
        if overwrite:
            _clear_checkpoint(dest)
        done, problem = load_partial(dest, pair, cfg)
        if problem:
            failed[stem] = problem
            continue
        jobs.append(ModelJob(stem, str(image), str(mask), str(dest), cfg.to_dict(), schedule.num_scales,
                             pyramid_key(schedule), done))
    return jobs, skipped, failed


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
        groups += [members[i:i + k] for i in range(0, len(members), k)]
    return groups


# ---------------------------------------------------------------------------------------------- one group
def run_group(task: GroupTask, emit: EventFn | None = None) -> GroupResult:
    """Train one group: re-check every checkpoint (a retried task skips finished models and resumes
    partial ones), then ``batched.train_batched`` per sub-group of equal progress. A CUDA out-of-memory
    error splits the sub-group in two and tries again. Cancellation (``emit`` returning ``False``)
    raises ``Cancelled``; any other error fails that sub-group's models with the reason."""
    import torch

    from .batched import BatchedProgress, BatchItem, load_partial, train_batched
    from .data import load_pair
    from .training import is_finished_checkpoint

    t0 = time.perf_counter()
    result = GroupResult(task.index)
    pending: dict[int, list[BatchItem]] = defaultdict(list)
    by_name: dict[str, ModelJob] = {}
    for job in task.jobs:
        if is_finished_checkpoint(job.out_dir):
            result.finished.append(job.stem)  # finished by an earlier attempt of this task
            continue
        try:
            cfg = TrainConfig.from_dict(job.config)
            pair = load_pair(job.image, job.mask, name=job.stem)
            done, problem = load_partial(Path(job.out_dir), pair, cfg)
        except SinGANSegError as err:
            done, problem = 0, str(err)
        if problem:
            result.failed[job.stem] = problem
            continue
        by_name[job.stem] = job
        pending[done].append(BatchItem(pair, Path(job.out_dir), cfg, name=job.stem))

    def send(ev: ModelEvent) -> None:
        if emit is not None and emit(ev) is False:
            raise Cancelled(f"training cancelled ({ev.stem}, scale {ev.scale})")

    def on_batch(ev: BatchedProgress) -> bool:
        for i, name in enumerate(ev.names):
            kind = "scale_done" if ev.scale_done else "iteration"
            send(ModelEvent(name, kind, ev.scale, ev.num_scales, ev.iteration, ev.niter,
                            ev.losses[i] if ev.losses else {}, group=task.index))
        return True

    def train(items: list[BatchItem]) -> None:
        for it in items:
            job = by_name[it.model_name]
            send(ModelEvent(job.stem, "started", 0, job.num_scales, group=task.index,
                            message=f"group of {len(items)}"))
        try:
            train_batched(items, device=task.device, progress=on_batch, resume=True, log_every=task.log_every)
        except torch.cuda.OutOfMemoryError:
            if len(items) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(items) // 2
            train(items[:half])
            train(items[half:])
            return
        for it in items:
            result.finished.append(it.model_name)
            send(ModelEvent(it.model_name, "finished", by_name[it.model_name].num_scales - 1,
                            by_name[it.model_name].num_scales, group=task.index))

    for _, items in sorted(pending.items()):
        try:
            train(items)
        except Cancelled:
            raise
        except (SinGANSegError, RuntimeError, OSError, ValueError) as err:
            for it in items:
                if it.model_name not in result.finished:
                    result.failed[it.model_name] = f"{err.__class__.__name__}: {err}"
    result.seconds = time.perf_counter() - t0
    return result


# ---------------------------------------------------------------------------------------------- executors
class Executor(Protocol):
    """Runs group tasks; yields each group's result as soon as it is done (any order)."""

    name: str

    def free_memory(self, device: str) -> int:
        """Bytes free on the device one task would use (for ``--parallel auto``)."""
        ...

    def run(self, tasks: Sequence[GroupTask], emit: EventFn | None) -> Iterator[GroupResult]:
        ...


def _free_memory(device: str) -> int:
    import torch

    from .batched import _available_ram
    from .training import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    return _available_ram()


class LocalExecutor:
    """Groups one after another in this process (the default)."""

    name = "local"

    def free_memory(self, device: str) -> int:
        return _free_memory(device)

    def run(self, tasks: Sequence[GroupTask], emit: EventFn | None) -> Iterator[GroupResult]:
        for task in tasks:
            yield run_group(task, emit)


def _ray_task(task: GroupTask) -> dict:
    """Ray task body (importable by workers): runs the group and returns the result as a dict."""
    return asdict(run_group(task, None))


class RayExecutor:
    """One Ray task per group on an existing cluster (``address``) or a local Ray started here.

    Checkpoints are written by the tasks into ``out_dir``, which must be a folder every node sees (a
    shared file system). Tasks that die (worker crash, node loss) are retried ``max_retries`` times;
    a retry skips the models its earlier attempt finished and resumes partial ones from their last
    scale. Progress is read from the checkpoints' ``config.json`` (one event per finished scale).

    Args:
        num_gpus: GPUs per task; ``None`` = 1 when the cluster has GPUs and the device is not ``cpu``.
        task_fn: the remote body (default :func:`_ray_task`); tests wrap it to kill a task mid-way.
        init_kwargs: extra ``ray.init`` arguments (``num_cpus``, ``runtime_env``, ...).
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_gpus: float | None = None, num_cpus: float = 1,
                 max_retries: int = 3, task_fn: Callable[[GroupTask], dict] | None = None,
                 init_kwargs: dict | None = None, poll_seconds: float = 1.0) -> None:
        self.address, self.num_gpus, self.num_cpus = address, num_gpus, num_cpus
        self.max_retries, self.task_fn = max_retries, task_fn or _ray_task
        self.init_kwargs, self.poll_seconds = dict(init_kwargs or {}), poll_seconds

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise InputError("the Ray executor needs Ray: pip install 'singanseg-studio[ray]' "
                             "(or pip install 'ray[default]')") from None
        if not ray.is_initialized():
            kwargs = {"ignore_reinit_error": True, "log_to_driver": False, **self.init_kwargs}
            if self.address is None:
                kwargs.setdefault("include_dashboard", False)
                # A local Ray: make this source tree importable by its workers.
                root = str(Path(__file__).resolve().parents[1])
                env = kwargs.setdefault("runtime_env", {}).setdefault("env_vars", {})
                env.setdefault("PYTHONPATH", os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
            ray.init(address=self.address or "local", **kwargs)  # "local": always a new instance
        return ray

    def _gpus(self, ray, device: str) -> float:
        if self.num_gpus is not None:
            return self.num_gpus
        return 1.0 if device != "cpu" and ray.cluster_resources().get("GPU", 0) > 0 else 0.0

    def free_memory(self, device: str) -> int:
        ray = self._ray()
        probe = ray.remote(num_cpus=self.num_cpus, num_gpus=self._gpus(ray, device))(_free_memory)
        return int(ray.get(probe.remote(device)))

    def run(self, tasks: Sequence[GroupTask], emit: EventFn | None) -> Iterator[GroupResult]:
        if not tasks:
            return
        ray = self._ray()
        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self._gpus(ray, tasks[0].device),
                            max_retries=self.max_retries, retry_exceptions=False)(self.task_fn)
        refs = {remote.remote(t): t for t in tasks}
        seen: dict[str, int] = {}
        try:
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=self.poll_seconds)
                for task in refs.values():
                    self._poll(task, seen, emit)
                for ref in ready:
                    task = refs.pop(ref)
                    try:
                        res = GroupResult(**ray.get(ref))
                    except Exception as err:  # the task failed after all retries
                        first = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
                        res = GroupResult(task.index, failed={j.stem: f"Ray task failed: {first}"
                                                              for j in task.jobs})
                    self._poll(task, seen, emit)
                    yield res
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise

    @staticmethod
    def _poll(task: GroupTask, seen: dict[str, int], emit: EventFn | None) -> None:
        """Emit ``scale_done`` for every scale that appeared in a job's checkpoint since the last poll."""
        if emit is None:
            return
        for job in task.jobs:
            try:
                done = int(json.loads((Path(job.out_dir) / "config.json").read_text()).get("num_trained") or 0)
            except (OSError, ValueError):
                continue
            for scale in range(seen.get(job.stem, job.start_scale), done):
                if emit(ModelEvent(job.stem, "scale_done", scale, job.num_scales, group=task.index)) is False:
                    raise Cancelled("training cancelled")
            seen[job.stem] = max(done, seen.get(job.stem, 0))


def get_executor(executor: "str | Executor", address: str | None = None) -> Executor:
    if not isinstance(executor, str):
        return executor
    if executor == "local":
        if address:
            raise InputError("--address only applies to --executor ray")
        return LocalExecutor()
    if executor == "ray":
        return RayExecutor(address=address)
    raise InputError(f"unknown executor {executor!r}; choose local or ray")


# ---------------------------------------------------------------------------------------------- API
def train_many(data_dir: str | os.PathLike, out_dir: str | os.PathLike, config: TrainConfig | None = None,
               parallel: "int | str" = 1, executor: "str | Executor" = "local", progress: EventFn | None = None,
               device: str = "auto", overwrite: bool = False, address: str | None = None,
               max_parallel: int = 64, log_every: int = 10) -> TrainManySummary:
    """Train one model per pair of a Kvasir-SEG folder into ``<out_dir>/<stem>``.

    Args:
        config: settings shared by every model; each model's seed is ``model_seed(config.seed, stem)``.
        parallel: K models per batched group, or ``"auto"`` (as many as fit in 70 % of the free memory
            of a task's device, at most ``max_parallel``; see ``batched.estimate_model_bytes``).
        executor: ``"local"`` (default), ``"ray"`` (with ``address``, else a local Ray) or an executor.
        progress: called with a :class:`ModelEvent` per model event; returning ``False`` cancels
            (raises ``Cancelled``; finished scales stay saved and a rerun resumes).
        overwrite: retrain models whose folder already holds a finished checkpoint.
    Returns:
        :class:`TrainManySummary` (trained / skipped / failed with reasons).
    """
    from .data import find_pairs

    out = Path(out_dir)
    entries = [(stem, image, mask, out / stem) for stem, image, mask in find_pairs(data_dir)]
    out.mkdir(parents=True, exist_ok=True)
    return train_pairs(entries, config, parallel=parallel, executor=executor, progress=progress, device=device,
                       overwrite=overwrite, address=address, max_parallel=max_parallel, log_every=log_every)


def train_pairs(entries: Sequence[Entry], config: TrainConfig | None = None, parallel: "int | str" = 1,
                executor: "str | Executor" = "local", progress: EventFn | None = None, device: str = "auto",
                overwrite: bool = False, address: str | None = None, max_parallel: int = 64,
                log_every: int = 10, derive_seeds: bool = True) -> TrainManySummary:
    """:func:`train_many` for explicit ``(name, image, mask, out_dir)`` entries (e.g. the dashboard's
    workspace, where checkpoint folders are named by the user). Events and summary use ``name``."""
    from .batched import estimate_model_bytes

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


__all__ = ["Executor", "GroupResult", "GroupTask", "LocalExecutor", "ModelEvent", "ModelJob", "RayExecutor",
           "TrainManySummary", "get_executor", "make_groups", "model_seed", "plan_entries", "plan_jobs", "run_group",
           "train_many", "train_pairs"]
