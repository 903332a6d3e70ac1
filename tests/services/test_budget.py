"""Sampling requests are estimated before they run; visitors get lower caps; heavy ones share server slots."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from singanseg_core.errors import InputError
from singanseg_core.services import budget

# a 250 px checkpoint as the paper trains it: 8 scales up to 250x200, 32..64 channels
SIZES = [[25, 20], [33, 27], [44, 36], [59, 47], [79, 63], [105, 84], [140, 112], [250, 200]]
CK = SimpleNamespace(sizes=SIZES, nfc=[32, 32, 32, 32, 64, 64, 64, 64], num_layer=5)
NO_ENV: dict[str, str] = {}


def test_the_estimate_multiplies_checkpoints_samples_pixels_and_redraws() -> None:
    one = budget.estimate_sampling([CK], 1)
    assert one.work == 250 * 200
    big = budget.estimate_sampling([CK, CK], 64, scale_h=3, scale_v=3, redraw_empty=8)
    assert big.work == 2 * 64 * 750 * 600 * 9
    assert big.peak_bytes > budget.estimate_sampling([CK], 64).peak_bytes > one.peak_bytes
    assert big.heavy and not one.heavy


def test_hostile_request_is_refused_for_a_visitor_and_small_ones_run() -> None:
    with pytest.raises(InputError, match=r"the cap is 8,000,000 \(SINGANSEG_MAX_SAMPLE_WORK.*ask for at most 1 samples"):
        with budget.sampling_guard([CK], 64, 3, 3, redraw_empty=8, visitor=True, environ=NO_ENV):
            pytest.fail("ran")
    ran = []
    with budget.sampling_guard([CK], 8, visitor=True, environ=NO_ENV) as est:
        ran.append(est.work)
    assert ran == [8 * 250 * 200]
    # the operator (open mode or unlocked) may ask for it
    assert budget.decide(budget.estimate_sampling([CK], 64, 3, 3, 8, batch_size=4),
                         budget.caps_from_env(False, NO_ENV)) is None


def test_caps_come_from_the_environment_and_visitors_never_exceed_the_operator() -> None:
    env = {"SINGANSEG_MAX_SAMPLE_WORK": "1000", "SINGANSEG_VISITOR_SAMPLE_WORK": "5000"}
    assert budget.caps_from_env(True, env).max_work == 1000
    assert budget.caps_from_env(False, env).max_work == 1000
    with pytest.raises(InputError, match="SINGANSEG_MAX_HEAVY"):
        budget._env_int({"SINGANSEG_MAX_HEAVY": "-3"}, "SINGANSEG_MAX_HEAVY", 2, 1, 1024)
    with pytest.raises(InputError, match="not a whole number"):
        budget.caps_from_env(True, {"SINGANSEG_MAX_SAMPLE_WORK": "1e999"})
    with pytest.raises(InputError, match="memory"):
        budget.sampling_guard([CK], 60, 4, 4, visitor=True,
                              environ={"SINGANSEG_VISITOR_SAMPLE_WORK": str(10**12)}).__enter__()


def test_a_session_budget_runs_out_and_refills_after_the_window() -> None:
    session = budget.SessionBudget()
    env = {"SINGANSEG_SESSION_SAMPLE_WORK": str(3 * 8 * 250 * 200)}
    for _ in range(3):
        with budget.sampling_guard([CK], 8, visitor=True, session=session, environ=env, now=0.0):
            pass
    with pytest.raises(InputError, match="this session has used 1,200,000 of its 1,200,000"):
        with budget.sampling_guard([CK], 8, visitor=True, session=session, environ=env, now=10.0):
            pass
    with budget.sampling_guard([CK], 8, visitor=True, session=session, environ=env,
                               now=budget.SESSION_WINDOW_S + 1):
        pass


def test_heavy_requests_wait_then_are_refused_when_every_slot_is_taken() -> None:
    slots = threading.BoundedSemaphore(1)
    heavy = dict(n=64, visitor=False, environ=NO_ENV, slots=slots)
    messages: list[str] = []
    with budget.sampling_guard([CK], **heavy):
        with pytest.raises(InputError, match="still busy"):
            with budget.sampling_guard([CK], wait_s=0.0, on_wait=messages.append, **heavy):
                pytest.fail("ran without a slot")
        with budget.sampling_guard([CK], 2, visitor=False, environ=NO_ENV, slots=slots):
            pass  # light requests never wait
    assert messages and "busy" in messages[0]
    with budget.sampling_guard([CK], wait_s=0.0, **heavy):  # the slot was given back
        pass
