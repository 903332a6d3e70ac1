"""Deep links into the teaching pages and unknown page paths.

``/Sample?checkpoint=NAME&seed=S&start=K`` (and the same on How it works) opens the page with those settings.
Query parameters are untrusted input: each is checked (a known checkpoint, whole numbers in range, at most
:data:`MAX_PARAM_CHARS` characters) and a bad one is named in one line while the page keeps its default.
"""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from singanseg_core.ranges import range_problem

MAX_PARAM_CHARS = 100        # longer query values are refused unread
SEED_MAX = 2**31 - 1         # the pages' seed inputs (and so a deep link's) stop here
LINK_PARAMS = ("checkpoint", "seed", "start")


def _whole_number(text: str, lo: int, hi: int, name: str) -> tuple[int | None, str | None]:
    """``text`` as an int in ``lo..hi``, or the one-line problem."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or len(stripped) > 19:
        return None, f"{name} must be a whole number in {lo}..{hi}, got {text[:20]!r}"
    problem = range_problem(int(stripped), lo, hi)
    return (None, f"{name} {problem}") if problem else (int(stripped), None)


def apply_deep_link(names: list[str], num_scales: Callable[[str], int], current: str | None,
                    seed_key: str, start_key: str, page: str) -> list[str]:
    """Read ``checkpoint``, ``seed`` and ``start`` from the URL once per distinct link (later changes on the page
    are the person's own) and put the valid ones into the page's widgets: the checkpoint becomes the current
    checkpoint (``ui.state.choose_checkpoint``), ``seed`` and ``start`` go to ``seed_key`` / ``start_key``
    (``start`` in ``0..num_scales(checkpoint)``). Returns one line per refused parameter (shown by the caller)."""
    from ui.state import choose_checkpoint

    params = {k: str(st.query_params.get(k, "")) for k in LINK_PARAMS if k in st.query_params}
    memo = f"_deep_link_{page}"
    if not params or st.session_state.get(memo) == params:
        return []
    st.session_state[memo] = params
    problems: list[str] = []
    if any(len(v) > MAX_PARAM_CHARS for v in params.values()):
        return [f"The link's settings are longer than {MAX_PARAM_CHARS} characters each; the defaults are kept."]
    name = params.get("checkpoint")
    if name is not None:
        if name in names:
            choose_checkpoint(name)
            current = name
        else:
            problems.append(f"The link names the checkpoint {name[:40]!r}, which this workspace does not have; "
                            f"showing {current} instead.")
    if "seed" in params:
        seed, problem = _whole_number(params["seed"], 0, SEED_MAX, "The link's seed")
        if problem:
            problems.append(problem + "; the seed is kept.")
        else:
            st.session_state[seed_key] = seed
    if "start" in params and current is not None:
        top = num_scales(current)
        start, problem = _whole_number(params["start"], 0, top, f"The link's start scale (for {current})")
        if problem:
            problems.append(problem + "; the start scale is kept.")
        else:
            st.session_state[start_key] = start
    return problems


def show_link_problems(problems: list[str]) -> None:
    """One line per refused deep-link parameter."""
    for line in problems:
        st.warning(line, icon=":material/link_off:")


def unknown_page_requested(known: list[str]) -> str | None:
    """The URL path the browser asked for when no page has it (Streamlit then runs the default page), else
    ``None``. ``known``: the pages' URL paths."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx: Any = get_script_run_ctx()
    asked = getattr(getattr(ctx, "pages_manager", None), "intended_page_name", None) if ctx else None
    if not asked or asked in known:
        return None
    return str(asked)[:MAX_PARAM_CHARS]


def open_deep_link(ws: Any, names: list[str], seed_key: str, start_key: str, page: str) -> None:
    """:func:`apply_deep_link` for a teaching page over the workspace ``ws`` (start scales from the cached
    model), its problems shown one line each. Call it before the page draws its checkpoint, seed and start
    widgets."""
    from ui.resources import load_model
    from ui.state import current_checkpoint

    show_link_problems(apply_deep_link(names, lambda n: load_model(ws, n).num_scales,
                                       current_checkpoint(ws, names), seed_key, start_key, page))


def say_unknown_page(slugs: list[str]) -> None:
    """Above the default page Streamlit runs instead: which path was asked for and that it does not exist."""
    lost = unknown_page_requested(slugs)
    if lost:
        st.warning(f"There is no page at /{lost}; this is Home. The pages are: "
                   + ", ".join(f"/{s}" for s in slugs if s != "Home") + ".", icon=":material/link_off:")
