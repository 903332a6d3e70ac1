"""Shared helpers of the Streamlit pages (kept out of ``pages/`` so Streamlit does not list it as a page).

Pages stay thin: they read widgets, call ``singanseg_core`` and draw. This module holds what every page needs:
the workspace, the one-line error wrapper, cached model loading, image helpers and the live job panel.
"""

from __future__ import annotations

import functools
import logging
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import streamlit as st
from PIL import Image

from singanseg_core.errors import SinGANSegError
from singanseg_core.services.workspace import Workspace

APP_TITLE = "SinGAN-Seg Studio"
JOB_REFRESH_S = 1.5          # live panels while a job is active
IDLE_REFRESH_S = 10.0        # while nothing runs (notices jobs started from another tab)
PAGES = [
    ("pages/0_Home.py", "Home", ":material/home:"),
    ("pages/1_Checkpoints.py", "Checkpoints", ":material/inventory_2:"),
    ("pages/2_Sample.py", "Sample", ":material/auto_awesome:"),
    ("pages/3_Style_transfer.py", "Style transfer", ":material/palette:"),
    ("pages/4_Mask_statistics.py", "Mask statistics", ":material/bar_chart:"),
    ("pages/5_Augmentation_study.py", "Augmentation study", ":material/science:"),
]




def page_slug(label: str) -> str:
    """URL path of a page: "Style transfer" -> "Style_transfer" (the Home page is served at "/")."""
    return label.replace(" ", "_")


# ---------------------------------------------------------------------------------------------- workspace
@st.cache_resource(show_spinner=False)
def _workspace(root: str) -> Workspace:
    from singanseg_core.services.demo import ensure_demo_workspace

    ws = Workspace(root)
    ensure_demo_workspace(ws)
    return ws


def workspace() -> Workspace:
    """The workspace of this server (``$SINGANSEG_WORKSPACE`` or ``./workspace``), demo copied in on first use."""
    import os

    from singanseg_core.services.workspace import ENV_VAR

    return _workspace(str(Path(os.environ.get(ENV_VAR) or "workspace").expanduser().resolve()))


def _logger(ws: Workspace) -> logging.Logger:
    log = logging.getLogger("singanseg.dashboard")
    path = str(ws.logs / "dashboard.log")
    if not any(getattr(h, "baseFilename", None) == path for h in log.handlers):
        h = logging.FileHandler(path, encoding="utf-8")
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)
    return log


def show_error(err: BaseException) -> None:
    """One friendly line: the message of a ``SinGANSegError``; for anything else a generic line (traceback logged)."""
    if isinstance(err, SinGANSegError):
        st.error(str(err).splitlines()[0] if str(err) else type(err).__name__, icon=":material/error:")
        return
    try:
        ws = workspace()
        _logger(ws).error("unexpected error\n%s", "".join(traceback.format_exception(err)))
        where = f" (details in {ws.root.name}/logs/dashboard.log)"
    except Exception:  # noqa: BLE001 - never fail while reporting a failure
        where = ""
    first = str(err).splitlines()[0][:200] if str(err) else ""
    st.error(f"Something went wrong: {type(err).__name__}{': ' + first if first else ''}{where}",
             icon=":material/error:")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run ``fn`` and turn any exception into :func:`show_error` (Streamlit's rerun/stop pass through)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - the UI never shows a traceback
            show_error(err)
            return None

    return wrapper


def page_header(title: str, icon: str, intro: str) -> Workspace:
    """``set_page_config`` + title + intro + the sidebar (workspace, demo note, running jobs). Returns the workspace."""
    st.set_page_config(page_title=f"{title} · {APP_TITLE}", page_icon=icon, layout="wide")
    st.title(title)
    st.caption(intro)
    ws = workspace()
    with st.sidebar:
        st.caption(f"Workspace: `{ws.root}`")
        from singanseg_core.services.demo import is_demo_workspace

        if is_demo_workspace(ws):
            st.caption(":material/info: Demo data is loaded (IHC microscopy tiles). See Home for Kvasir-SEG.")
        sidebar_jobs(ws)
    return ws


# ---------------------------------------------------------------------------------------------- models & images
@st.cache_resource(show_spinner=False, max_entries=16)
def _load_model(path: str, mtime: float):  # noqa: ANN202 - SinGANSeg
    from singanseg_core.model import SinGANSeg

    return SinGANSeg.from_pretrained(path, device="cpu")


def load_model(ws: Workspace, name: str):  # noqa: ANN201
    """The checkpoint ``checkpoints/<name>`` (cached; reloaded when its ``config.json`` changes)."""
    path = ws.resolve(Path("checkpoints") / name, must_exist=True)
    cfg = path / "config.json"
    return _load_model(str(path), cfg.stat().st_mtime if cfg.exists() else 0.0)


@st.cache_data(show_spinner=False, max_entries=64)
def read_json(path: str, mtime: float) -> dict[str, Any]:
    import json

    return json.loads(Path(path).read_text())


def checkpoint_config(ws: Workspace, name: str) -> dict[str, Any]:
    """``config.json`` of a checkpoint as a dict (cheap: no weights are read)."""
    path = ws.resolve(Path("checkpoints") / name / "config.json", must_exist=True)
    return read_json(str(path), path.stat().st_mtime)


def overlay(image: np.ndarray | Image.Image, mask: np.ndarray | Image.Image, alpha: float = 0.45,
            color: tuple[int, int, int] = (255, 40, 120)) -> np.ndarray:
    """The image with the mask painted over it in ``color`` (``alpha`` opacity) and its outline drawn solid."""
    img = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image).astype(np.float32)
    m = np.asarray(mask.convert("L") if isinstance(mask, Image.Image) else mask) > 127
    out = img.copy()
    out[m] = (1 - alpha) * img[m] + alpha * np.array(color, np.float32)
    edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
    out[edge] = color
    return out.clip(0, 255).astype(np.uint8)


def framed(arr: np.ndarray | Image.Image, grey_level: int = 170) -> np.ndarray:
    """RGB copy with a 1-pixel grey frame, so white mask areas stay visible against the white page."""
    a = np.asarray(arr.convert("RGB") if isinstance(arr, Image.Image) else arr)
    if a.ndim == 2:
        a = np.dstack([a] * 3)
    return np.pad(a, ((1, 1), (1, 1), (0, 0)), constant_values=grey_level)


def upscale(arr: np.ndarray | Image.Image, min_side: int = 160) -> Image.Image:
    """Nearest-neighbour enlargement so small images are visible (pixels stay crisp)."""
    im = arr if isinstance(arr, Image.Image) else Image.fromarray(np.asarray(arr))
    k = max(1, int(np.ceil(min_side / max(1, min(im.size)))))
    return im.resize((im.width * k, im.height * k), Image.NEAREST) if k > 1 else im


def grey(arr: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """Float ``(H, W)`` in ``[0, vmax]`` → uint8 grey image."""
    return (np.clip(np.asarray(arr, np.float64) / vmax, 0, 1) * 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- jobs
STATE_ICONS = {"queued": ":material/schedule:", "running": ":material/autorenew:", "done": ":material/check_circle:",
               "failed": ":material/error:", "cancelled": ":material/cancel:", "interrupted": ":material/pause_circle:"}


def submit_job(ws: Workspace, kind: str, args: dict[str, Any], title: str) -> None:
    """Start a background job and say so (errors as one line)."""
    from singanseg_core.services import jobs

    try:
        job = jobs.submit(ws, kind, args, title=title)
    except Exception as err:  # noqa: BLE001
        show_error(err)
        return
    st.toast(f"Started: {title}", icon=":material/rocket_launch:")
    st.session_state[f"last_job_{kind}"] = job.id
    st.rerun()  # redraw the whole page: sidebar and job panels switch to live refresh


def _rerun_panel() -> None:
    """Rerun just the job panel after a click; a full rerun when the click came in one (e.g. under AppTest)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        st.rerun()


def _job_row(ws: Workspace, job: Any, key: str, details: bool) -> None:
    from singanseg_core.services import jobs

    cols = st.columns([6, 1.2, 1.2, 1.2])
    with cols[0]:
        st.markdown(f"{STATE_ICONS.get(job.state, '')} **{job.title}** · `{job.state}` · {job.message}")
        if job.state in ("running", "queued"):
            st.progress(job.progress, text=f"{job.progress * 100:.0f} %")
    with cols[1]:
        if job.active and st.button("Cancel", key=f"cancel_{key}_{job.id}", icon=":material/stop:",
                                    help="Ask the job to stop; finished parts stay on disk and it can be resumed."):
            guarded(jobs.cancel)(ws, job.id)
            _rerun_panel()
    with cols[2]:
        if job.resumable and st.button("Resume", key=f"resume_{key}_{job.id}", icon=":material/play_arrow:",
                                       help="Start a new worker that continues where this job stopped "
                                            "(finished scales, runs and files are kept)."):
            guarded(jobs.resume)(ws, job.id)
            _rerun_panel()
    with cols[3]:
        if not job.active and st.button("Delete", key=f"delete_{key}_{job.id}", icon=":material/delete:",
                                        help="Remove this job's folder and log. What it produced (checkpoints, "
                                             "samples, style results, studies) stays in the workspace."):
            guarded(jobs.delete)(ws, job.id)
            _rerun_panel()
    if details and job.items:
        with st.expander(f"Details ({len(job.items)} item(s))", expanded=job.active):
            for name, item in list(job.items.items())[:50]:
                st.progress(float(item.get("progress") or 0.0),
                            text=f"{name}: {item.get('state', '')} {item.get('message', '') or ''}"[:160])
            log = job.log_tail(8)
            if log:
                st.code(log, language=None)


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
                                         help="Delete the folders of the jobs listed here that finished "
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
                    st.progress(j.progress, text=f"{j.title}"[:40])
            else:
                st.caption("No job running.")
        except Exception as err:  # noqa: BLE001
            show_error(err)

    mini()


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, poll: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` s passed (tests and benchmarks)."""
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()
