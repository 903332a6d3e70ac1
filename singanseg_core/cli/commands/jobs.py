"""``singanseg jobs run|list|cancel|resume|delete|clear``: background jobs of a workspace (see ``singanseg_core/jobs.py``)."""

from __future__ import annotations

import argparse

from ._common import ranged


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="list, cancel, resume, delete or run background jobs of a workspace",
                       description="Jobs are folders <workspace>/jobs/<id>/ with spec.json, status.json, log.txt.")
    p.add_argument("--workspace", default=None, help="workspace folder (default: $SINGANSEG_WORKSPACE or ./workspace)")
    jsub = p.add_subparsers(dest="jobs_command", metavar="ACTION")
    r = jsub.add_parser("run", help="run a job folder in this process (what the dashboard's workers do)")
    r.add_argument("job_dir", help="the job's folder")
    r.set_defaults(func=_run)
    ls = jsub.add_parser("list", help="list jobs, newest first")
    ls.add_argument("--kind", default=None, help="only jobs of this kind (train, sample, style-batch, study, ...)")
    ls.set_defaults(func=_list)
    c = jsub.add_parser("cancel", help="ask a job to stop")
    c.add_argument("job_id")
    c.add_argument("--terminate-after", type=ranged("grace"), default=None,
                   help="wait here, and terminate its processes if it has not stopped after this many seconds "
                        "(default: a background watchdog does that after 15 s)")
    c.set_defaults(func=_cancel)
    rs = jsub.add_parser("resume", help="restart an interrupted, cancelled or failed job where it stopped")
    rs.add_argument("job_id")
    rs.set_defaults(func=_resume)
    d = jsub.add_parser("delete", help="delete finished, failed or cancelled jobs' folders (their results stay)")
    d.add_argument("job_ids", nargs="+", metavar="job_id")
    d.set_defaults(func=_delete)
    cl = jsub.add_parser("clear", help="delete the folders of all jobs in the given states (default: done)")
    cl.add_argument("--kind", default=None, help="only jobs of this kind")
    cl.add_argument("--states", nargs="+", default=["done"],
                    choices=["done", "failed", "cancelled", "interrupted"], help="states to clear")
    cl.set_defaults(func=_clear)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _ws(args: argparse.Namespace):
    from ...services.workspace import Workspace

    return Workspace(args.workspace) if args.workspace else Workspace.from_env()


def _run(args: argparse.Namespace) -> int:
    from ...services.jobs import run_job

    return run_job(args.job_dir)


def _list(args: argparse.Namespace) -> int:
    from ...services.jobs import list_jobs

    jobs = list_jobs(_ws(args), kind=args.kind)
    for j in jobs:
        print(f"{j.id:40s} {j.state:12s} {j.progress * 100:5.1f}%  {j.message}")
    if not jobs:
        print("no jobs")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from ...services.jobs import CANCEL_GRACE_S, cancel

    waiting = args.terminate_after is not None
    job = cancel(_ws(args), args.job_id, args.terminate_after if waiting else CANCEL_GRACE_S, wait=waiting)
    print(f"{job.id}: {job.state} (cancel requested)")
    return 0


def _resume(args: argparse.Namespace) -> int:
    from ...services.jobs import resume

    job = resume(_ws(args), args.job_id)
    print(f"{job.id}: {job.state}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from ...services.jobs import delete

    ws = _ws(args)
    for job_id in args.job_ids:
        delete(ws, job_id)
        print(f"{job_id}: deleted")
    return 0


def _clear(args: argparse.Namespace) -> int:
    from ...services.jobs import clear_finished

    gone = clear_finished(_ws(args), kind=args.kind, states=tuple(args.states))
    print(f"deleted {len(gone)} job folder(s)" + (": " + ", ".join(gone) if gone else ""))
    return 0
