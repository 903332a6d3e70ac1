"""Bounded sampling for this browser session: every in-page sampling request goes through
``services.budget.sampling_guard`` (estimate first, refuse beyond the cap in one line, wait for a heavy slot with a
message), with the lower caps of a locked classroom visitor and this session's own hourly budget."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import streamlit as st

from singanseg_core.services import budget
from ui.access import UNLOCKED_KEY, policy

SESSION_BUDGET_KEY = "_sampling_budget"   # session key: this browser session's services.budget.SessionBudget
WAIT_S = budget.DEFAULT_WAIT_S            # seconds a heavy request waits for a free slot before it is refused


def is_visitor() -> bool:
    """True for a locked classroom visitor (classroom mode, passphrase not entered in this session)."""
    return bool(policy().classroom and not st.session_state.get(UNLOCKED_KEY))


def session_budget() -> budget.SessionBudget:
    """The pixel draws this browser session was granted in the last hour (kept in its session state)."""
    held = st.session_state.get(SESSION_BUDGET_KEY)
    if not isinstance(held, budget.SessionBudget):
        held = st.session_state[SESSION_BUDGET_KEY] = budget.SessionBudget()
    return held


@contextmanager
def bounded_sampling(models: Sequence[Any], n: int, scale_h: float = 1.0, scale_v: float = 1.0,
                     redraw_empty: int = 0) -> Iterator[budget.SamplingEstimate]:
    """Run the block only when sampling ``n`` samples (per model) of ``models`` (``SinGANSeg``) at ``scale_h`` x
    ``scale_v`` with up to ``redraw_empty`` redraws fits this session's caps; raises a one-line ``InputError``
    naming the cap otherwise. A heavy request waits for one of the server's slots under an ``st.status`` line."""
    shown: list[Any] = []

    def waiting(message: str) -> None:
        shown.append(st.status(message, state="running"))

    batch = min((m.default_batch_size() for m in models), default=None)
    try:
        with budget.sampling_guard(list(models), n, scale_h, scale_v, redraw_empty, batch_size=batch,
                                   visitor=is_visitor(), session=session_budget(), on_wait=waiting,
                                   wait_s=WAIT_S) as estimate:
            for box in shown:
                box.update(label="A slot is free: sampling.", state="complete")
            yield estimate
    except BaseException:
        for box in shown:
            box.update(state="error")
        raise
