"""Background jobs on a page: submitting one (after the classroom gate), the machine's time estimate before a run
starts, and the live job panels."""

from __future__ import annotations

from typing import Any

import streamlit as st

from singanseg_core.services.workspace import Workspace
from ui.access import why_help, why_locked
from ui.feedback import guarded, scrub, show_error

JOB_REFRESH_S = 1.5          # live panels while a job is active
IDLE_REFRESH_S = 10.0        # while nothing runs (notices jobs started from another tab)
STATE_ICONS = {"queued": ":material/schedule:", "running": ":material/autorenew:", "done": ":material/check_circle:",
               "failed": ":material/error:", "cancelled": ":material/cancel:", "interrupted": ":material/pause_circle:"}


def submit_job(ws: Workspace, kind: str, args: dict[str, Any], title: str) -> None:
    """Start a background job and say so (errors as one line)."""
    from singanseg_core.services import jobs
    from singanseg_core.services.job_tasks import action_for

    locked = why_locked(action_for(kind))
    if locked:
        st.error(locked, icon=":material/lock:")
        return
    try:
        job = jobs.submit(ws, kind, args, title=title)
    except Exception as err:  # noqa: BLE001
        show_error(err)
        return
    st.toast(f"Started: {title}", icon=":material/rocket_launch:")
    st.session_state[f"last_job_{kind}"] = job.id
    st.rerun()  # redraw the whole page: sidebar and job panels switch to live refresh


def time_estimate(ws: Workspace, kind: str, key: str, units: float, what: str) -> None:
    """A caption with this machine's own estimate of a run before it starts (``services.timings``: from its
    past runs with the same settings, or that the first run will set one)."""
    from singanseg_core.services.timings import describe, estimate

    st.caption(f":material/timer: {describe(estimate(ws, kind, key, units), what)}")


def _rerun_panel() -> None:
    """Rerun just the job panel after a click; a full rerun when the click came in one (e.g. under AppTest)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        st.rerun()


def job_progress_text(job: Any) -> str:
    """The one progress line of a job, shared by its row and the sidebar: its message and its percentage."""
    pct = f"{job.progress * 100:.0f} %"
    return f"{scrub(job.message)} · {pct}" if job.message and job.message != "queued" else f"{job.state} · {pct}"


def _job_row(ws: Workspace, job: Any, key: str, details: bool) -> None:
    from singanseg_core.services import catalog, jobs

    cols = st.columns([4, 1.4])
    with cols[0]:
        st.markdown(f"{STATE_ICONS.get(job.state, '')} **{job.title}** · `{job.state}`")
        st.caption(catalog.job_caption(job))
        if job.state in ("running", "queued"):
            st.progress(job.progress, text=job_progress_text(job)[:160])
        elif job.message:
            st.caption(scrub(job.message)[:200])
    with cols[1]:  # the buttons that apply, stacked (room for their labels on a narrow screen)
        if job.active and st.button("Cancel", key=f"cancel_{key}_{job.id}", icon=":material/stop:", width="stretch",
                                    disabled=bool(why_locked("cancel")),
                                    help=why_help("cancel") or "Ask the job to stop; finished parts stay on disk "
                                                               "and it can be resumed."):
            guarded(jobs.cancel)(ws, job.id)
            _rerun_panel()
        if job.resumable and st.button("Resume", key=f"resume_{key}_{job.id}", icon=":material/play_arrow:",
                                       width="stretch", disabled=bool(why_locked("resume")),
                                       help=why_help("resume") or "Start a new worker that continues where this job "
                                                             "stopped (finished scales, runs and files are kept)."):
            guarded(jobs.resume)(ws, job.id)
            _rerun_panel()
        if not job.active and st.button("Delete", key=f"delete_{key}_{job.id}", icon=":material/delete:",
                                        width="stretch", disabled=bool(why_locked("delete")),
                                        help=why_help("delete") or "Remove this job's folder and log. What it "
                                                                   "produced (checkpoints, "
                                             "samples, style results, studies) stays in the workspace."):
            guarded(jobs.delete)(ws, job.id)
            _rerun_panel()
    if details and job.items:
        with st.expander(f"Details ({len(job.items)} item(s))", expanded=job.active):
            for name, item in list(job.items.items())[:50]:
                text = (f"{name}: {catalog.item_state(item, job.state)} · "
                        f"{scrub(item.get('message', '') or '')}").rstrip(" ·")
                st.progress(float(item.get("progress") or 0.0), text=text[:160])
            log = job.log_tail(8)
            if log:
                st.code(scrub(log), language=None)


def _refresh_interval(ws: Workspace) -> float:
    from singanseg_core.services import jobs

    try:
        return JOB_REFRESH_S if any(j.active for j in jobs.list_jobs(ws, limit=20)) else IDLE_REFRESH_S
    except Exception:  # noqa: BLE001
        return IDLE_REFRESH_S


def job_panel(ws: Workspace, kinds: tuple[str, ...] | None, key: str, limit: int = 5,
              title: str = "Jobs") -> None:
    """A live list of the workspace's jobs of ``kinds`` (refreshes itself every ~1.5 s while any is active)."""

    @st.fragment(run_every=_refresh_interval(ws))
    def panel() -> None:
        try:
            from singanseg_core.services import jobs

            mine = [j for j in jobs.list_jobs(ws) if kinds is None or j.kind in kinds]
            found = mine[:limit]
            head, clear = st.columns([6, 2], vertical_alignment="bottom")
            head.subheader(title)
            finished = sum(j.state == "done" for j in mine)
            if finished and clear.button(f"Clear {finished} finished", key=f"clear_{key}", icon=":material/delete_sweep:",
                                         disabled=bool(why_locked("delete")),
                                         help=why_help("delete") or "Delete the folders of the jobs listed here "
                                                                    "that finished "
                                              "successfully; their results stay in the workspace."):
                for kind in sorted({j.kind for j in mine}):
                    guarded(jobs.clear_finished)(ws, kind=kind)
                _rerun_panel()
            if not found:
                st.caption("No jobs yet. Jobs run in background processes: you may leave this page, "
                           "reload it or close the tab; progress and results stay in the workspace.")
                return
            for job in found:
                _job_row(ws, job, key, details=True)
        except Exception as err:  # noqa: BLE001
            show_error(err)

    panel()


def sidebar_jobs(ws: Workspace) -> None:
    """Compact summary of active jobs in the sidebar, on every page."""

    interval = _refresh_interval(ws)

    @st.fragment(run_every=interval)
    def mini() -> None:
        try:
            from singanseg_core.services import jobs

            active = [j for j in jobs.list_jobs(ws, limit=20) if j.active]
            if bool(active) != (interval == JOB_REFRESH_S):
                # a job started (elsewhere) or all finished: rerun the page so panels switch refresh rate
                # and result lists pick up what the jobs wrote
                st.rerun()
            if active:
                st.markdown(f"**{len(active)} job(s) running**")
                for j in active[:4]:
                    st.progress(j.progress, text=f"{j.title}: {job_progress_text(j)}"[:90])
            else:
                st.caption("No job running.")
        except Exception as err:  # noqa: BLE001
            show_error(err)

    mini()
