"""Bounded sampling on the Sample page (``ui.sampling_budget`` over ``services.budget.sampling_guard``): a request
beyond the cap is refused in one line naming the cap before anything is sampled, a locked classroom visitor gets
the lower caps, and a heavy request waits for a server slot under a status line."""

from __future__ import annotations

import pytest

from singanseg_core.model import SinGANSeg
from singanseg_core.services import budget
from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page

PASSPHRASE = "a-long-passphrase"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def sample_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``n`` of every ``SinGANSeg.sample`` call (the real method still runs)."""
    calls: list[int] = []
    real = SinGANSeg.sample

    def counting(self, n: int = 1, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(n)
        return real(self, n, *args, **kwargs)

    monkeypatch.setattr(SinGANSeg, "sample", counting)
    return calls


def _ask(at, n: int, redraw: int = 0, factor: float = 1.0):  # noqa: ANN001, ANN202 - AppTest
    by_key(at, "number_input", "sm_n").set_value(n)
    by_key(at, "number_input", "sm_redraw").set_value(redraw)
    by_key(at, "slider", "sm_sh").set_value(factor)
    by_key(at, "slider", "sm_sv").set_value(factor)
    return by_key(at.run(), "button", "sm_go").click().run()


def _errors(at) -> list[str]:  # noqa: ANN001
    return [e.value for e in at.error]


def test_the_largest_request_a_visitor_can_click_is_refused_before_sampling(
        demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch, sample_calls: list[int]) -> None:
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    at = page("pages/Sample.py").run()
    by_key(at, "multiselect", "sm_ckpts").set_value(demo_ws.list_checkpoints(finished_only=True))
    at = _ask(at.run(), 64, redraw=8, factor=3.0)
    assert not at.exception
    (line,) = _errors(at)
    assert line.startswith("too much work for this server") and budget.VISITOR_WORK_ENV in line
    assert f"{budget.DEFAULT_VISITOR_WORK:,}" in line and "ask for at most" in line
    assert sample_calls == [] and not at.session_state["sm_result"]  # nothing sampled, nothing shown
    assert not any("samples in" in s.value for s in at.success)


def test_a_locked_visitor_gets_the_lower_cap_and_the_unlocked_teacher_does_not(
        demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch, sample_calls: list[int]) -> None:
    from ui.access import UNLOCKED_KEY

    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    monkeypatch.setenv("SINGANSEG_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv(budget.VISITOR_WORK_ENV, "10000")  # two 128x128 samples are 32,768 pixel draws
    at = _ask(page("pages/Sample.py").run(), 2)
    assert any(budget.VISITOR_WORK_ENV in e and "10,000" in e for e in _errors(at)) and sample_calls == []
    at.session_state[UNLOCKED_KEY] = True  # what the sidebar's passphrase field sets
    at = ok(by_key(at.run(), "button", "sm_go").click().run())
    assert sample_calls == [2] and len(at.session_state["sm_result"]["results"]) == 1


def test_the_operators_cap_holds_in_open_mode_and_save_is_bounded_too(
        demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch, sample_calls: list[int]) -> None:
    at = ok(_ask(page("pages/Sample.py").run(), 2))
    assert sample_calls == [2]
    monkeypatch.setenv(budget.MAX_WORK_ENV, "20000")  # now below the shown samples' 32,768 pixel draws
    before = sorted(demo_ws.list_sample_sets())
    at = by_key(at.run(), "button", "sm_save").click().run()
    assert any(budget.MAX_WORK_ENV in e for e in _errors(at))
    assert sorted(demo_ws.list_sample_sets()) == before and sample_calls == [2]  # no folder left behind


def test_the_session_budget_runs_out(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                     sample_calls: list[int]) -> None:
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    monkeypatch.setenv(budget.SESSION_WORK_ENV, "50000")  # one request of 2 samples (32,768), not two
    at = ok(_ask(page("pages/Sample.py").run(), 2))
    at = by_key(at, "button", "sm_go").click().run()
    assert any("this session has used 32,768 of its 50,000" in e for e in _errors(at))
    assert sample_calls == [2]


@pytest.mark.slow
def test_a_heavy_request_waits_for_a_slot_with_a_message(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                                         sample_calls: list[int]) -> None:
    import ui.sampling_budget

    monkeypatch.setattr(ui.sampling_budget, "WAIT_S", 0.2)
    slots = budget.heavy_slots()
    taken = 0
    while slots.acquire(blocking=False):  # every slot busy with another visitor's request
        taken += 1
    try:
        at = _ask(page("pages/Sample.py").run(), 64)  # 64 x 128 x 128 > budget.HEAVY_WORK
    finally:
        for _ in range(taken):
            slots.release()
    assert any("server is busy" in s.label for s in at.status)
    assert any("still busy" in e and budget.MAX_HEAVY_ENV in e for e in _errors(at)) and sample_calls == []
    at = ok(by_key(at, "button", "sm_go").click().run())  # slots free again: it runs
    assert sample_calls == [64]


def test_the_start_scale_comparison_is_bounded(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                               sample_calls: list[int]) -> None:
    at = ok(_ask(page("pages/Sample.py").run(), 1))
    monkeypatch.setenv(budget.MAX_WORK_ENV, "20000")  # one sample per start scale is more than this
    at = by_key(at.run(), "button", "sm_grid_go").click().run()
    assert any(budget.MAX_WORK_ENV in e for e in _errors(at)) and sample_calls == [1]
