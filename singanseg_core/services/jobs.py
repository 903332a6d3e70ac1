"""Background jobs: long work (training, sampling, style batches, studies, legacy import) in worker processes.

A job is a folder ``<workspace>/jobs/<id>/``:

* ``spec.json``   — ``{"kind", "args", "title", "created"}``, written once by :func:`submit`.
* ``status.json`` — ``{"state", "progress", "message", "items", "pid", "started", "finished", "result", ...}``,
  rewritten atomically by the worker. ``state`` is one of :data:`STATES`; ``items`` holds per-item progress
  (per model, per run, per image) as ``{name: {"state", "progress", "message"}}``.
* ``log.txt``     — append-only human log (tracebacks of unexpected errors go here, never to the UI).
* ``cancel``      — flag file: the worker's progress callbacks see it and stop cleanly (``Cancelled``).

:func:`submit` starts ``python -m singanseg_core jobs run <jobdir>`` with ``start_new_session=True``: the worker
is not a thread of the Streamlit script, so it survives reruns, page changes, closed tabs and a restart of
the server. Workers queue through a lock file so at most ``SINGANSEG_MAX_JOBS`` (default 1: CPUs are few) run
at once. When a worker dies without writing a final state (machine restart, kill -9), :func:`read_status`
reports ``interrupted``; :func:`resume` starts a new worker on the same folder and every kind continues
where it stopped (training from the last finished scale, studies from the last finished run, samples and
style batches skip files that exist).

Why not a queue library: huey/rq/celery need a separate consumer or broker process that must be started and
kept alive next to Streamlit; a folder per job with a detached process needs nothing, is inspectable with
``ls``/``cat`` and is testable without Streamlit. ``filelock`` (already installed with torch) does the locking.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Cancelled, InputError, SinGANSegError
from ..files.atomic import atomic_write_json
from ..files.bounded_json import UnreadableJSONError, read_json
from .workspace import Workspace, safe_name, unique_suffix

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
MAX_JOBS_ENV = "SINGANSEG_MAX_JOBS"
THREADS_ENV = "SINGANSEG_JOB_THREADS"   # torch threads per worker (default: half the CPUs, at least 1)
_CHILDREN: list[subprocess.Popen] = []  # reaped in list_jobs so finished workers do not stay zombies


# ---------------------------------------------------------------------------------------------- records
@dataclass
class Job:
    """A job folder as the UI sees it (read-only snapshot)."""

    id: str
    dir: Path
    kind: str
    title: str
    args: dict[str, Any]
    created: float
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return self.status.get("state", "queued")

    @property
    def progress(self) -> float:
        return float(self.status.get("progress") or 0.0)

    @property
    def message(self) -> str:
        return str(self.status.get("message") or "")

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return dict(self.status.get("items") or {})

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def resumable(self) -> bool:
        return self.state in ("interrupted", "cancelled", "failed")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.dir / "log.txt").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


MAX_JOB_FILE_BYTES = 4 * 2**20  # a job's spec/status; real ones are a few KB (a train job lists its stems)


def scrub_paths(text: str, root: Path) -> str:
    """``text`` with the server's absolute paths replaced, for messages that are stored and shown: the workspace
    root becomes ``workspace``, the torch cache ``<torch cache>``, the home folder ``~``."""
    from torch.hub import get_dir

    roots = [(str(root), "workspace"), (str(Path(get_dir()).parent), "<torch cache>"), (str(Path.home()), "~")]
    for path, label in sorted(roots, key=lambda r: -len(r[0])):  # the longest first: the cache is under home
        if len(path) > 1:
            text = text.replace(path, label)
    return text


def _read_json(path: Path) -> dict[str, Any]:
    for _ in range(3):  # atomic writes make this nearly always succeed first time
        try:
            return read_json(path, MAX_JOB_FILE_BYTES)
        except UnreadableJSONError:
            if not path.exists():
                return {}
            time.sleep(0.05)
    return {}


def pid_alive(pid: int | None, started: float | None = None) -> bool:
    """True when process ``pid`` runs (not a zombie) and, on Linux, started no later than ``started``."""
    if not pid:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        if fields[0] in ("Z", "X"):
            return False
        if started is not None:  # pid reuse after a reboot: the process must be older than the status
            ticks = os.sysconf("SC_CLK_TCK")
            boot = _boot_time()
            if boot is not None and boot + int(fields[19]) / ticks > started + 5:
                return False
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def read_status(job_dir: Path) -> dict[str, Any]:
    """``status.json`` with ``running``/``queued`` turned into ``interrupted`` when the worker is gone."""
    status = _read_json(job_dir / "status.json")
    if status.get("state") in ACTIVE:
        pid = status.get("pid")
        if pid and not pid_alive(pid, status.get("pid_started")):
            status = dict(status, state="interrupted",
                          message=f"interrupted ({status.get('message') or 'worker stopped'}); resume to continue")
        elif not pid and time.time() - float(status.get("updated") or 0) > 60:
            status = dict(status, state="interrupted", message="the worker never started; resume to retry")
    return status


def load_job(job_dir: Path) -> Job | None:
    spec = _read_json(job_dir / "spec.json")
    if not spec:
        return None
    return Job(job_dir.name, job_dir, spec.get("kind", "?"), spec.get("title", job_dir.name), spec.get("args", {}),
               float(spec.get("created", 0)), read_status(job_dir))


def list_jobs(ws: Workspace, kind: str | None = None, limit: int | None = None) -> list[Job]:
    """Jobs of the workspace, newest first (optionally of one kind)."""
    for p in list(_CHILDREN):
        if p.poll() is not None:
            _CHILDREN.remove(p)
    jobs = []
    for d in ws.jobs.iterdir() if ws.jobs.is_dir() else []:
        if d.is_dir() and not d.name.startswith("."):
            job = load_job(d)
            if job is not None and (kind is None or job.kind == kind):
                jobs.append(job)
    jobs.sort(key=lambda j: j.created, reverse=True)
    return jobs[:limit] if limit else jobs


def get_job(ws: Workspace, job_id: str) -> Job:
    job = load_job(ws.jobs / safe_name(job_id, "job id"))
    if job is None:
        raise InputError(f"job {job_id!r} not found")
    return job


# ---------------------------------------------------------------------------------------------- control
def _spawn(ws: Workspace, job_dir: Path) -> subprocess.Popen:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["SINGANSEG_WORKSPACE"] = str(ws.root)
    with open(job_dir / "log.txt", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "singanseg_core", "jobs", "run", str(job_dir)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=root, env=env)
    _CHILDREN.append(proc)
    return proc


def submit(ws: Workspace, kind: str, args: dict[str, Any], title: str | None = None, start: bool = True) -> Job:
    """Check ``args`` (names inside the workspace that exist, known settings, numbers in range: see
    ``job_tasks``), then create a job folder and start its worker. ``args`` hold workspace-relative names only.

    Raises:
        InputError: an unknown kind or a bad argument, before anything is queued.
    """
    from .job_tasks import validate

    args = validate(ws, kind, args)
    job_dir = ws.jobs / f"{kind}-{unique_suffix()}"
    job_dir.mkdir(parents=True)
    now = time.time()
    atomic_write_json(job_dir / "spec.json", {"kind": kind, "args": args, "title": title or kind, "created": now})
    atomic_write_json(job_dir / "status.json", {"state": "queued", "progress": 0.0, "message": "queued",
                                                "items": {}, "pid": None, "updated": now})
    if start:
        _spawn(ws, job_dir)
    job = load_job(job_dir)
    assert job is not None
    return job


CANCEL_GRACE_S = 15.0   # seconds a worker gets to reach a cancel point before its process group is terminated
KILL_GRACE_S = 5.0      # then seconds between SIGTERM and SIGKILL


def cancel(ws: Workspace, job_id: str, terminate_after: float | None = CANCEL_GRACE_S, wait: bool = False) -> Job:
    """Stop a job: set its ``cancel`` flag (the worker stops at its next progress callback) and, if it is still
    running after ``terminate_after`` seconds, terminate its process group (SIGTERM, then SIGKILL after
    :data:`KILL_GRACE_S`) and record it as cancelled. So a job stuck where it never reaches a callback (a
    hung read, a long C call) is stopped too, and the queue behind it moves on.

    Args:
        terminate_after: grace period in seconds; ``None`` only sets the flag.
        wait: do the waiting here; by default a small detached watchdog process does it, so a page returns
            at once.
    """
    job = get_job(ws, job_id)
    (job.dir / "cancel").touch()
    if job.state in ("interrupted",) or (job.state == "queued" and not job.status.get("pid")):
        _write_status(job.dir, cancelled_status(job.status, "cancelled"))
        _release_outputs(ws, job.dir, {"kind": job.kind, "args": job.args})
    elif terminate_after is not None and job.active:
        if wait:
            stop_worker(job.dir, terminate_after)
        else:
            _spawn_watchdog(ws, job.dir, terminate_after)
    return load_job(job.dir)  # type: ignore[return-value]


def stop_worker(job_dir: Path, grace: float = CANCEL_GRACE_S, kill_grace: float = KILL_GRACE_S) -> bool:
    """Wait up to ``grace`` s for the worker of ``job_dir`` to stop by itself, then SIGTERM its process group,
    then SIGKILL it after ``kill_grace`` s. A worker that died without a final state is recorded as cancelled.
    Returns whether the worker had to be terminated."""
    job_dir = Path(job_dir)
    deadline = time.time() + max(0.0, grace)
    while time.time() < deadline and read_status(job_dir).get("state") in ACTIVE:
        time.sleep(0.2)
    status = read_status(job_dir)
    pid, started = status.get("pid"), status.get("pid_started")
    if status.get("state") not in ACTIVE or not pid:
        return False
    for sig, wait_s in ((signal.SIGTERM, kill_grace), (signal.SIGKILL, 10.0)):
        if not pid_alive(pid, started):
            break
        try:
            os.killpg(pid, sig)  # workers run in their own session: pgid == pid
        except ProcessLookupError:
            break
        except PermissionError:
            return False
        end = time.time() + wait_s
        while time.time() < end and pid_alive(pid, started):
            time.sleep(0.1)
    _append_log(job_dir, f"worker {pid} terminated after cancel (no response within {grace:g} s)")
    if _read_json(job_dir / "status.json").get("state") in ACTIVE:  # it died without writing a final state
        spec = _read_json(job_dir / "spec.json")
        if spec:
            _release_outputs(Workspace(job_dir.parent.parent), job_dir, spec)
        _write_status(job_dir, cancelled_status(_read_json(job_dir / "status.json"),
                                                f"cancelled (the worker did not stop within {grace:g} s and was "
                                                "terminated)"))
    return True


def cancelled_status(status: dict[str, Any], message: str) -> dict[str, Any]:
    """``status`` of a job that ended cancelled: the job's state, message and end time, and every item still
    ``running`` or ``queued`` marked ``cancelled`` too (its progress kept, its live message such as "about 7 min
    left" replaced), so no row keeps saying it runs after the cancel took effect."""
    items = {}
    for name, item in (status.get("items") or {}).items():
        item = dict(item)
        if str(item.get("state") or "queued") in ACTIVE:
            pct = float(item.get("progress") or 0.0)
            item.update(state="cancelled", message=f"cancelled at {pct * 100:.0f} %" if pct else "cancelled")
            item.pop("eta_s", None)
        items[name] = item
    return dict(status, state="cancelled", message=message, finished=time.time(), items=items)


def _spawn_watchdog(ws: Workspace, job_dir: Path, grace: float) -> subprocess.Popen:
    """A detached ``python -c`` running :func:`stop_worker` (survives the page that asked)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = ("import sys; from singanseg_core.services.jobs import stop_worker; "
            "stop_worker(sys.argv[1], float(sys.argv[2]))")
    with open(job_dir / "log.txt", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-c", code, str(job_dir), str(float(grace))],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=root, env=env)
    _CHILDREN.append(proc)
    return proc


def resume(ws: Workspace, job_id: str) -> Job:
    """Start a new worker on an interrupted, cancelled or failed job; it continues where the last one stopped."""
    job = get_job(ws, job_id)
    if job.active:
        raise InputError(f"job {job_id} is still {job.state}")
    (job.dir / "cancel").unlink(missing_ok=True)
    _write_status(job.dir, dict(job.status, state="queued", message="resuming", pid=None, error=None))
    _append_log(job.dir, "resume requested")
    _spawn(ws, job.dir)
    return load_job(job.dir)  # type: ignore[return-value]


def delete(ws: Workspace, job_id: str) -> None:
    """Remove a finished job's folder (its results elsewhere in the workspace stay)."""
    import shutil

    job = get_job(ws, job_id)
    if job.active:
        raise InputError(f"job {job_id} is {job.state}; cancel it first")
    shutil.rmtree(job.dir, ignore_errors=True)


def clear_finished(ws: Workspace, kind: str | None = None, states: tuple[str, ...] = ("done",)) -> list[str]:
    """Delete the folders of jobs in ``states`` (default: finished successfully), optionally of one ``kind``.
    Active jobs are never touched; results elsewhere in the workspace stay. Returns the deleted job ids."""
    bad = set(states) & set(ACTIVE)
    if bad:
        raise InputError(f"cannot clear jobs that are {', '.join(sorted(bad))}; cancel them first")
    gone = []
    for job in list_jobs(ws, kind=kind):
        if job.state in states:
            delete(ws, job.id)
            gone.append(job.id)
    return gone


def _write_status(job_dir: Path, status: dict[str, Any]) -> None:
    status["updated"] = time.time()
    atomic_write_json(job_dir / "status.json", status)


def _append_log(job_dir: Path, text: str) -> None:
    with open(job_dir / "log.txt", "a", encoding="utf-8") as fh:
        fh.write(time.strftime("%H:%M:%S ") + text.rstrip() + "\n")


# ---------------------------------------------------------------------------------------------- worker side
class JobContext:
    """What a job handler gets: the workspace, its args, progress reporting and the cancel check."""

    def __init__(self, ws: Workspace, job_dir: Path, spec: dict[str, Any], status: dict[str, Any]) -> None:
        self.ws, self.dir, self.spec, self.args = ws, job_dir, spec, spec.get("args", {})
        self.status = status
        self._last_write = 0.0

    @property
    def cancelled(self) -> bool:
        return (self.dir / "cancel").exists()

    def log(self, text: str) -> None:
        _append_log(self.dir, text)

    def update(self, progress: float | None = None, message: str | None = None, item: str | None = None,
               item_progress: float | None = None, item_state: str | None = None, item_message: str | None = None,
               force: bool = False, fields: dict[str, Any] | None = None) -> bool:
        """Record progress (throttled to ~4 writes/s unless ``force``). Returns ``False`` when cancelled.

        ``fields``: extra JSON values a job kind reports, set at the top level of the status and, with ``item``,
        in that item too (e.g. training's ``scale``, ``num_scales``, ``s_per_it``, ``eta_s``)."""
        if progress is not None:
            self.status["progress"] = round(min(max(float(progress), 0.0), 1.0), 4)
        if message is not None:
            self.status["message"] = message
        if item is not None:
            it = self.status.setdefault("items", {}).setdefault(item, {"state": "queued", "progress": 0.0})
            if item_progress is not None:
                it["progress"] = round(min(max(float(item_progress), 0.0), 1.0), 4)
            if item_state is not None:
                it["state"] = item_state
            if item_message is not None:
                it["message"] = item_message
            if fields:
                it.update(fields)
        if fields:
            self.status.update(fields)
        now = time.time()
        if force or item_state is not None or now - self._last_write > 0.25:
            _write_status(self.dir, self.status)
            self._last_write = now
        return not self.cancelled

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled("cancelled")


def _max_jobs() -> int:
    try:
        return max(1, int(os.environ.get(MAX_JOBS_ENV, "1")))
    except ValueError:
        return 1


def _wait_for_slot(ctx: JobContext, poll: float = 1.0) -> None:
    """Queue: become ``running`` once fewer than ``SINGANSEG_MAX_JOBS`` other jobs run (under a file lock)."""
    from filelock import FileLock

    lock = FileLock(str(ctx.ws.jobs / ".queue.lock"))
    announced = False
    while True:
        ctx.check()
        with lock:
            running = [j for j in list_jobs(ctx.ws) if j.state == "running" and j.id != ctx.dir.name]
            if len(running) < _max_jobs():
                ctx.status.update(state="running", message="starting", pid=os.getpid(),
                                  pid_started=time.time(), started=ctx.status.get("started") or time.time())
                _write_status(ctx.dir, ctx.status)
                return
        if not announced:
            ctx.status.update(state="queued", pid=os.getpid(), pid_started=time.time(),
                              message=f"waiting for {len(running)} running job(s) to finish")
            _write_status(ctx.dir, ctx.status)
            announced = True
        time.sleep(poll)


def _limit_threads() -> None:
    """Small conv nets on a shared CPU run several times faster with few threads (no oversubscription)."""
    try:
        n = int(os.environ.get(THREADS_ENV, "0")) or max(1, (os.cpu_count() or 2) // 2)
    except ValueError:
        n = 1
    import torch

    torch.set_num_threads(n)


def run_job(job_dir: str | os.PathLike) -> int:
    """Worker entry point (``singanseg jobs run DIR``): runs the job's handler and records the outcome."""
    job_dir = Path(job_dir).resolve()
    spec = _read_json(job_dir / "spec.json")
    if not spec:
        raise InputError(f"{job_dir}: no spec.json (not a job folder)")
    ws = Workspace(job_dir.parent.parent)
    status = _read_json(job_dir / "status.json") or {"items": {}}
    ctx = JobContext(ws, job_dir, spec, status)

    def on_term(signum, frame):  # noqa: ANN001
        raise Cancelled("stopped (terminated)")

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (in-process use): no SIGTERM handling
        previous = None
    _limit_threads()
    try:
        _wait_for_slot(ctx)
        ctx.log(f"worker {os.getpid()} running {spec['kind']} job")
        from .job_tasks import TASKS

        task = TASKS.get(spec["kind"])
        if task is None:
            raise InputError(f"unknown job kind {spec['kind']!r}")
        result = task.run(ctx) or {}
        ctx.status.update(state="done", progress=1.0, result=result, finished=time.time(),
                          message=result.get("message", "done"))
        ctx.log("done")
        code = 0
    except Cancelled as err:
        ctx.status = cancelled_status(ctx.status, str(err) or "cancelled")
        ctx.log(f"cancelled: {err}")
        code = 0
    except SinGANSegError as err:
        text = scrub_paths(str(err), ws.root)
        line = (text.splitlines() or [type(err).__name__])[0]
        ctx.status.update(state="failed", message=line, error=text, finished=time.time())
        ctx.log(f"failed: {err}")
        code = 1
    except Exception as err:  # noqa: BLE001 - recorded for people, traceback in the log
        first = (scrub_paths(str(err), ws.root).splitlines() or [""])[0][:200]
        msg = f"unexpected error ({type(err).__name__}: {first}); details in jobs/{job_dir.name}/log.txt"
        ctx.status.update(state="failed", message=msg, error=msg, finished=time.time())
        ctx.log("unexpected error:\n" + traceback.format_exc())
        code = 1
    if ctx.status.get("state") != "done":
        _release_outputs(ws, job_dir, spec)
    _write_status(job_dir, ctx.status)
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
    return code


def _release_outputs(ws: Workspace, job_dir: Path, spec: dict[str, Any]) -> None:
    """A job that did not finish gives back the still-empty folders it reserved (see ``job_tasks``)."""
    from .job_tasks import release_outputs

    try:
        released = release_outputs(ws, str(spec.get("kind")), dict(spec.get("args") or {}))
    except Exception:  # noqa: BLE001 - tidying up must never hide the job's own outcome
        return
    if released:
        _append_log(job_dir, f"released empty folder(s) {', '.join(released)}")
