"""What a page tells a person: one-line errors (never a traceback), import reports, notices after a rerun."""

from __future__ import annotations

import functools
import logging
import traceback
from typing import TYPE_CHECKING, Any, Callable

import streamlit as st

from singanseg_core.errors import SinGANSegError
from singanseg_core.services.workspace import Workspace
from ui.access import policy
from ui.resources import workspace

if TYPE_CHECKING:
    import pandas as pd


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
    """In classroom mode, the server paths in ``text`` (``services.jobs.scrub_paths``: the workspace becomes
    ``workspace``, the torch cache ``<torch cache>``, the home folder ``~``) are not shown."""
    try:
        if policy().classroom:
            from singanseg_core.services.jobs import scrub_paths

            return scrub_paths(text, workspace().root)
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


def unreadable_checkpoints_note(ws: Workspace, limit: int = 10) -> None:
    """A warning naming each checkpoint that cannot be read and why (``catalog.unreadable_checkpoints``; at most
    ``limit`` lines), so a page lists the others and says what it left out."""
    from singanseg_core.services import catalog

    bad = catalog.unreadable_checkpoints(ws)
    if not bad:
        return
    lines = [f"- **{name}**: {scrub(why)}" for name, why in list(bad.items())[:limit]]
    more = f"\n- … and {len(bad) - limit} more" if len(bad) > limit else ""
    st.warning(f"{len(bad)} checkpoint(s) cannot be read and are left out (see **Checkpoints**):\n"
               + "\n".join(lines) + more, icon=":material/warning:")


def shown_settings(ws: Workspace, table: "pd.DataFrame") -> "pd.DataFrame":
    """A ``catalog.settings_table`` as the page may show it: in classroom mode an absolute path among the values
    is shown relative to the workspace (``ui.access.shown_path``), any other text through :func:`scrub`."""
    from pathlib import PurePosixPath

    from ui.access import shown_path

    if not policy().classroom or table.empty:
        return table

    def shown(value: object) -> object:
        if not isinstance(value, str):
            return value
        return shown_path(ws, value) if PurePosixPath(value).is_absolute() else scrub(value)

    return table.assign(value=table["value"].map(shown))
