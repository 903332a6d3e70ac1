"""Where groups of models train: :class:`LocalExecutor` (this process, one group after another) or
:class:`RayExecutor` (one Ray task per group on a cluster, retried when a worker dies)."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

from ..errors import Cancelled, InputError
from ..files.bounded_json import read_json
from .groups import EventFn, GroupResult, GroupTask, ModelEvent, run_group
from .memory import free_memory


class Executor(Protocol):
    """Runs group tasks; yields each group's result as soon as it is done (any order)."""

    name: str

    def free_memory(self, device: str) -> int:
        """Bytes free on the device one task would use (for ``--parallel auto``)."""
        ...

    def run(self, tasks: Sequence[GroupTask], emit: EventFn | None) -> Iterator[GroupResult]:
        ...


class LocalExecutor:
    """Groups one after another in this process (the default)."""

    name = "local"

    def free_memory(self, device: str) -> int:
        return free_memory(device)

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
                root = str(Path(__file__).resolve().parents[2])
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
        probe = ray.remote(num_cpus=self.num_cpus, num_gpus=self._gpus(ray, device))(free_memory)
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
                done = int(read_json(Path(job.out_dir) / "config.json").get("num_trained") or 0)
            except (InputError, ValueError, TypeError):
                continue
            for scale in range(seen.get(job.stem, job.start_scale), done):
                niter = int(job.config.get("niter") or 0)  # a finished scale: iteration niter of niter
                if emit(ModelEvent(job.stem, "scale_done", scale, job.num_scales, niter, niter,
                                   group=task.index)) is False:
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
