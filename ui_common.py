"""Shared helpers of the Streamlit pages (kept out of ``pages/`` so Streamlit does not list it as a page).

Pages stay thin: they read widgets, call ``singanseg_core`` and draw. This module holds what every page needs:
the workspace, the one-line error wrapper, cached model loading, image helpers, the live job panel, and the
widgets that keep a person's choices sensible while other choices change:

* :func:`derived_text_input`: a name that follows the current settings until the person types their own;
* :func:`sticky_multiselect`: picks that survive a change of the options they come from (or a sensible default);
* :func:`button`: a button that, when disabled, says why;
* :func:`delete_control`: deleting a workspace item after a confirmation, refused while a job uses it;
* projector mode (:func:`projector`): larger tiles, fewer per row, bigger captions, one sidebar toggle;
* classroom mode (:func:`why_locked`): write actions gated by ``services.access`` with a passphrase unlock.

Larger panels that several pages draw (the training record, the Sample page's explorers) are in ``ui_panels``.
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
PROJECTOR_KEY = "projector_mode"          # remembered for the session (not a widget key: survives page changes)
JOB_REFRESH_S = 1.5          # live panels while a job is active
IDLE_REFRESH_S = 10.0        # while nothing runs (notices jobs started from another tab)
PAGES = [
    ("pages/0_Home.py", "Home", ":material/home:"),
    ("pages/1_Checkpoints.py", "Checkpoints", ":material/inventory_2:"),
    ("pages/2_Sample.py", "Sample", ":material/auto_awesome:"),
    ("pages/6_How_it_works.py", "How it works", ":material/school:"),
    ("pages/3_Style_transfer.py", "Style transfer", ":material/palette:"),
    ("pages/4_Mask_statistics.py", "Mask statistics", ":material/bar_chart:"),
    ("pages/5_Augmentation_study.py", "Augmentation study", ":material/science:"),
]




@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Once per server process, after the first page is drawn: import the heavy libraries the first plot needs
    (plotly, scipy) on a background thread, so the first histogram or loss curve a lecturer asks for does not
    wait for them."""
    import threading

    def load() -> None:
        try:
            import plotly.graph_objects  # noqa: F401
            import plotly.subplots  # noqa: F401
            import scipy.stats  # noqa: F401
        except Exception:  # noqa: BLE001 - only a speed-up
            pass

    threading.Thread(target=load, name="singanseg-warm-up", daemon=True).start()
    return True


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
        st.error(scrub(str(err).splitlines()[0] if str(err) else type(err).__name__), icon=":material/error:")
        return
    try:
        ws = workspace()
        _logger(ws).error("unexpected error\n%s", "".join(traceback.format_exception(err)))
        where = f" (details in {ws.root.name}/logs/dashboard.log)"
    except Exception:  # noqa: BLE001 - never fail while reporting a failure
        where = ""
    first = str(err).splitlines()[0][:200] if str(err) else ""
    st.error(scrub(f"Something went wrong: {type(err).__name__}{': ' + first if first else ''}{where}"),
             icon=":material/error:")


def scrub(text: str) -> str:
    """In classroom mode, the workspace's server path in ``text`` becomes ``workspace`` (no server path shown)."""
    try:
        if policy().classroom:
            return text.replace(str(workspace().root), "workspace")
    except Exception:  # noqa: BLE001 - never fail while reporting
        pass
    return text


def report_lines(skipped: list[str], notes: list[str], limit: int = 20) -> None:
    """What an import skipped (a warning) and the conversions it made (an info), at most ``limit`` lines each."""
    for lines, box, icon in ((skipped, st.warning, ":material/warning:"), (notes, st.info, ":material/info:")):
        if lines:
            more = f"\n- … and {len(lines) - limit} more" if len(lines) > limit else ""
            box("\n".join(f"- {scrub(line)}" for line in lines[:limit]) + more, icon=icon)


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


def flash(message: str) -> None:
    """Show ``message`` (a success line) at the top of the next run of the page, e.g. after ``st.rerun()``."""
    st.session_state.setdefault("_flash", []).append(message)


def page_header(title: str, icon: str, intro: str) -> Workspace:
    """``set_page_config`` + title + intro + the sidebar (workspace, demo note, running jobs). Returns the workspace."""
    st.set_page_config(page_title=f"{title} · {APP_TITLE}", page_icon=icon, layout="wide")
    st.title(title)
    st.caption(intro)
    for message in st.session_state.pop("_flash", []):
        st.success(message, icon=":material/check:")
    ws = workspace()
    with st.sidebar:
        projector_toggle()
        classroom_sidebar()
        st.caption(f"Workspace: `{shown_path(ws, ws.root)}`")
        from singanseg_core.services.demo import is_demo_workspace

        if is_demo_workspace(ws):
            st.caption(":material/info: Demo data is loaded (IHC microscopy tiles). See Home for Kvasir-SEG.")
        sidebar_jobs(ws)
    return ws


# ---------------------------------------------------------------------------------------------- choices
def derived_text_input(label: str, default: str, key: str, container: Any = None, **kwargs: Any) -> str:
    """A text input whose value is ``default`` (recomputed from the current choices on every run) until the
    person types a name of their own; that name then stays whatever else changes. Clearing the field (or typing
    the default itself) makes it follow the default again.
    """
    own, current = f"{key}__own", f"{key}__default"
    mine = st.session_state.get(own)
    if mine is None:
        st.session_state[key] = default
    elif key not in st.session_state:  # the widget was not drawn on the last run: Streamlit dropped its value
        st.session_state[key] = mine
    st.session_state[current] = default

    def typed() -> None:
        value = str(st.session_state.get(key) or "").strip()
        st.session_state[own] = value if value and value != st.session_state.get(current) else None

    return (container or st).text_input(label, key=key, on_change=typed, **kwargs)


def sticky_multiselect(label: str, options: list[str], key: str, default: list[str], container: Any = None,
                       **kwargs: Any) -> list[str]:
    """A multiselect whose picks stay valid when its ``options`` change (e.g. another set was chosen): picks that
    still exist are kept; when none is left, ``default`` is used. An empty choice the person made themselves (on
    unchanged options) stays empty."""
    seen = f"{key}__options"
    picks = st.session_state.get(key)
    if picks is None:
        st.session_state[key] = [d for d in default if d in options]
    elif st.session_state.get(seen) != list(options):
        kept = [p for p in picks if p in options]
        st.session_state[key] = kept or [d for d in default if d in options]
    st.session_state[seen] = list(options)
    return (container or st).multiselect(label, options, key=key, **kwargs)


def button(label: str, key: str, help: str, why_not: str | None = None, container: Any = None,
           action: str | None = None, **kwargs: Any) -> bool:
    """A button that is disabled while ``why_not`` is set, and then says why (as its tooltip and a caption).
    ``action`` (a ``services.access`` action, e.g. ``"train"``): also disabled while the access policy locks it."""
    where = container or st
    why_not = (why_locked(action) if action else None) or why_not
    clicked = where.button(label, key=key, disabled=bool(why_not),
                           help=f"Disabled: {why_not}" if why_not else help, **kwargs)
    if why_not:
        where.caption(f":material/block: {why_not}")
    return bool(clicked)


def delete_control(ws: Workspace, category: str, name: str, key: str) -> None:
    """``Delete …`` → a confirmation naming the item → :func:`singanseg_core.services.catalog.delete_item`
    (refused with one line while a job uses the item). The outcome is shown on the next run."""
    from singanseg_core.services import catalog

    label, pending = catalog.LABELS[category], f"{key}__confirm"
    users = catalog.jobs_using(ws, category, name)
    why = f"the {users[0].state} job '{users[0].title}' uses it" if users else None
    if st.session_state.get(pending) != name:
        if button(f"Delete {label} {name}…", key=f"{key}_ask", icon=":material/delete:", why_not=why, action="delete",
                  help=f"Remove {category}/{name} from the workspace (you will be asked to confirm)."):
            st.session_state[pending] = name
            st.rerun()
        return
    st.warning(f"Delete {label} **{name}** (`{category}/{name}`) and everything in it? This cannot be undone.",
               icon=":material/warning:")
    c1, c2 = st.columns(2)
    if c1.button(f"Yes, delete {name}", key=f"{key}_yes", type="primary", icon=":material/delete_forever:",
                 help="Delete it now."):
        st.session_state.pop(pending, None)
        try:
            flash(catalog.delete_item(ws, category, name))
        except Exception as err:  # noqa: BLE001 - one line, never a traceback
            show_error(err)
            return
        st.rerun()
    if c2.button("Keep it", key=f"{key}_no", icon=":material/undo:", help="Do not delete anything."):
        st.session_state.pop(pending, None)
        st.rerun()


# ---------------------------------------------------------------------------------------------- classroom mode
UNLOCKED_KEY = "classroom_unlocked"      # session key: this browser session entered the passphrase


@st.cache_resource(show_spinner=False)
def _policy(mode: str | None, plain: str | None, hashed: str | None, cap: str | None):  # noqa: ANN202
    from singanseg_core.services.access import policy_from_env

    env = {k: v for k, v in (("SINGANSEG_MODE", mode), ("SINGANSEG_PASSPHRASE", plain),
                             ("SINGANSEG_PASSPHRASE_SHA256", hashed), ("SINGANSEG_MAX_UPLOADS", cap)) if v is not None}
    return policy_from_env(env)


def policy():  # noqa: ANN201 - AccessPolicy
    """The server's access policy (``services.access.policy_from_env``; open mode unless set)."""
    import os

    return _policy(*(os.environ.get(k) for k in ("SINGANSEG_MODE", "SINGANSEG_PASSPHRASE",
                                                 "SINGANSEG_PASSPHRASE_SHA256", "SINGANSEG_MAX_UPLOADS")))


def shown_path(ws: Workspace, path: str | Path) -> str:
    """``path`` as the page may show it: as is in open mode, relative to the workspace in classroom mode."""
    return policy().display_path(ws, path)


def why_help(action: str) -> str | None:
    """The tooltip of a control the policy locks (``"Disabled: <why>"``), or ``None`` when it is allowed."""
    why = why_locked(action)
    return f"Disabled: {why}" if why else None


def why_locked(action: str) -> str | None:
    """``None`` when this session may do ``action``; else the policy's one sentence why not."""
    allowed, why = policy().allows(action, unlocked=bool(st.session_state.get(UNLOCKED_KEY)))
    return None if allowed else why


UPLOADS_KEY = "uploads_used"             # session key: files this browser session has uploaded


def upload_limit(n_files: int) -> str | None:
    """``None`` when this session may upload ``n_files`` more files under the server's per-session cap
    (``SINGANSEG_MAX_UPLOADS``, both modes); else why not."""
    pol = policy()
    left = pol.uploads_left(int(st.session_state.get(UPLOADS_KEY, 0)))
    if n_files > left:
        return (f"this session may upload {left} more file(s) (the server allows "
                f"{pol.max_uploads_per_session} per browser session)")
    return None


def refuse_upload(n_files: int) -> None:
    """The server-side check when an upload click arrives (the button may have been drawn before the cap was
    reached, e.g. in another run): the access policy, then this session's upload cap."""
    from singanseg_core.errors import InputError

    why = why_locked("upload") or upload_limit(n_files)
    if why:
        raise InputError(f"upload refused: {why}")


def count_uploads(n_files: int) -> None:
    """Add ``n_files`` to this session's upload count (see :func:`upload_limit`)."""
    st.session_state[UPLOADS_KEY] = int(st.session_state.get(UPLOADS_KEY, 0)) + int(n_files)


def classroom_sidebar() -> None:
    """In classroom mode: what visitors may do, and the passphrase field that unlocks write actions."""
    pol = policy()
    if not pol.classroom:
        return
    if st.session_state.get(UNLOCKED_KEY):
        st.caption(":material/lock_open: Classroom mode: unlocked in this session.")
        if st.button("Lock again", key="_classroom_lock", help="Lock write actions again in this session."):
            st.session_state[UNLOCKED_KEY] = False
            st.rerun()
        return
    st.caption(":material/lock: Classroom mode: browse, sample, compare and plot; training, uploads, saving "
               "and deleting are locked.")
    if pol.passphrase_sha256 is None:
        return
    with st.form("_classroom_unlock", border=False):
        text = st.text_input("Teacher's passphrase", type="password", key="_classroom_pass",
                             help="Unlocks write actions (uploads, training, deleting, ...) in this browser session.")
        if st.form_submit_button("Unlock", help="Check the passphrase."):
            if pol.check_passphrase(text):
                st.session_state[UNLOCKED_KEY] = True
                st.rerun()
            time.sleep(1.0)  # one guess per second per tab
            st.error("Wrong passphrase.", icon=":material/lock:")


# ---------------------------------------------------------------------------------------------- projector mode
_PROJECTOR_CSS = """<style>
[data-testid="stImageCaption"] { font-size: 1.3rem !important; line-height: 1.5 !important; }
[data-testid="stCaptionContainer"] { font-size: 1.1rem !important; }
[data-testid="stMainBlockContainer"] { padding-left: 1.5rem !important; padding-right: 1.5rem !important; }
</style>"""


def projector() -> bool:
    """Whether projector mode is on for this session (large tiles, fewer per row, bigger captions)."""
    return bool(st.session_state.get(PROJECTOR_KEY, False))


def projector_toggle() -> None:
    """The sidebar toggle of projector mode; its value is kept under a plain session key so it survives page
    changes (Streamlit forgets the state of a widget that a page does not draw)."""
    def flip() -> None:
        st.session_state[PROJECTOR_KEY] = bool(st.session_state.get("_projector_toggle"))

    st.session_state["_projector_toggle"] = projector()
    st.toggle("Projector mode", key="_projector_toggle", on_change=flip,
              help="For a lecture room: larger image tiles, fewer per row and bigger captions. Stays on while "
                   "this browser tab is open.")
    if projector():
        st.markdown(_PROJECTOR_CSS, unsafe_allow_html=True)


def tiles_per_row(wide: bool = False) -> int:
    """Gallery columns: ``wide`` tiles (image / mask / overlay) 4, single images 6; in projector mode 2 and 3."""
    if projector():
        return 2 if wide else 3
    return 4 if wide else 6


def tile_side() -> int:
    """Smallest side (px) small images are enlarged to before drawing (crisp pixels, not browser blur)."""
    return 320 if projector() else 192


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


def real_pair(ws: Workspace, name: str) -> tuple[Image.Image, Image.Image] | None:
    """The training image (RGB) and mask (L) kept with checkpoint ``name``, through the model's own bounded
    readers (never a link, mask at the image's size); ``None`` when the checkpoint does not load."""
    try:
        model = load_model(ws, name)
    except Exception:  # noqa: BLE001 - a partial or broken checkpoint: no pictures, the table says why
        return None
    return model.real_image(), model.real_mask()


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


def triptych(image: np.ndarray, mask: np.ndarray, gap: int = 4) -> np.ndarray:
    """Image, mask and overlay stacked top to bottom (framed, ``gap`` white px apart): one gallery tile that stays
    as wide as a column, so each panel is large even on a 1024-px projector."""
    panels = [framed(image), framed(mask), framed(overlay(image, mask))]
    white = np.full((gap, panels[0].shape[1], 3), 255, np.uint8)
    return np.vstack([panels[0], white, panels[1], white, panels[2]])


def before_after(before: np.ndarray, after: np.ndarray, at: float, min_side: int = 320,
                 line_px: int = 2) -> np.ndarray:
    """Both images enlarged (nearest neighbour, to ``min_side``), then left ``at`` fraction from ``after`` and the
    rest from ``before``, split by a white line of ``line_px`` pixels: drawn after enlarging, so it stays thin."""
    b = np.asarray(upscale(before, min_side))
    a = np.asarray(upscale(after, min_side))
    if a.shape != b.shape:
        a = np.asarray(Image.fromarray(a).resize((b.shape[1], b.shape[0]), Image.NEAREST))
    w = b.shape[1]
    x = int(round(min(max(at, 0.0), 1.0) * w))
    out = b.copy()
    out[:, :x] = a[:, :x]
    if 0 < x < w:
        lo = min(max(0, x - line_px // 2), w - line_px)
        out[:, lo:lo + line_px] = 255
    return out


def grey(arr: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """Float ``(H, W)`` in ``[0, vmax]`` → uint8 grey image."""
    return (np.clip(np.asarray(arr, np.float64) / vmax, 0, 1) * 255).astype(np.uint8)


def describe_start_scale(name: str, sizes: list[tuple[int, int]], k: int) -> str:
    """What ``gen_start_scale = k`` (0-based, as the paper's code) does to one checkpoint, in scales numbered
    1 (coarsest) .. n as everywhere else in the dashboard, with the sizes in px."""
    n = len(sizes)
    listing = " · ".join(f"{i}: {h}×{w}" for i, (h, w) in enumerate(sizes, start=1))
    if k <= 0:
        what = f"all {n} scales generated from fresh noise"
    elif k >= n:
        what = f"scales 1–{n} all follow the real image: a reconstruction"
    else:
        what = f"scales 1–{k} follow the real image, scales {k + 1}–{n} are generated"
    return f"**{name}** ({n} scales; {listing} px): {what}."


# ---------------------------------------------------------------------------------------------- jobs
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
    return f"{job.message} · {pct}" if job.message and job.message != "queued" else f"{job.state} · {pct}"


def _job_row(ws: Workspace, job: Any, key: str, details: bool) -> None:
    from singanseg_core.services import catalog, jobs

    cols = st.columns([4, 1.4])
    with cols[0]:
        st.markdown(f"{STATE_ICONS.get(job.state, '')} **{job.title}** · `{job.state}`")
        st.caption(catalog.job_caption(job))
        if job.state in ("running", "queued"):
            st.progress(job.progress, text=job_progress_text(job)[:160])
        elif job.message:
            st.caption(job.message[:200])
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
                text = f"{name}: {catalog.item_state(item)} · {item.get('message', '') or ''}".rstrip(" ·")
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


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, poll: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` s passed (tests and benchmarks)."""
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()
