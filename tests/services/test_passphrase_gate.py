"""The passphrase limit is server-wide: many sessions together get no more guesses than one (injected clock)."""

from __future__ import annotations

import logging
import threading

import pytest

from singanseg_core.services.access import (FREE_WRONG_GUESSES, MAX_WAIT_S, AccessPolicy, PassphraseGate,
                                            passphrase_gate, sha256_hex)

SECRET = "correct horse battery"
POLICY = AccessPolicy("classroom", sha256_hex(SECRET))


def test_sixteen_sessions_share_one_backoff(caplog: pytest.LogCaptureFixture) -> None:
    gate = PassphraseGate(POLICY)
    caplog.set_level(logging.WARNING, logger="singanseg_core.services.access")
    now, compared = 0.0, 0
    # 16 sessions guess as fast as they can for an hour: each answer other than "wait" was a real comparison
    while now < 3600.0:
        for session in range(16):
            answer = gate.check(f"tab-{session}", f"guess-{compared}", now)
            compared += answer.state != "wait"
        now += 0.25
    # free guesses, then waits of 1, 2, 4, ... s capped at MAX_WAIT_S: about 3600 / MAX_WAIT_S more in the hour
    assert compared <= FREE_WRONG_GUESSES + 9 + 3600.0 / MAX_WAIT_S + 1
    assert "wrong passphrase from session" in caplog.text and "guess-" not in caplog.text
    assert SECRET not in caplog.text


def test_waits_double_and_a_guess_during_a_wait_is_not_compared() -> None:
    gate = PassphraseGate(POLICY, free=2, first_wait_s=1.0, max_wait_s=8.0)
    assert [gate.check("a", "x", 0.0).wait_s for _ in range(2)] == [0.0, 0.0]
    assert gate.check("b", "x", 0.0).wait_s == 1.0
    blocked = gate.check("c", SECRET, 0.5)  # even the right passphrase waits: nothing is compared
    assert blocked.state == "wait" and blocked.wait_s == pytest.approx(0.5) and "0.5" not in blocked.message
    assert gate.check("a", "x", 1.0).wait_s == 2.0
    assert gate.check("a", "x", 3.0).wait_s == 4.0
    assert gate.check("a", "x", 7.0).wait_s == 8.0
    assert gate.check("a", "x", 15.0).wait_s == 8.0  # capped
    ok = gate.check("teacher", SECRET, 23.0)
    assert ok.ok and gate.wrong == 0
    assert gate.check("a", "x", 23.0).wait_s == 0.0  # the count started afresh


def test_the_gate_is_one_per_process_and_thread_safe() -> None:
    gate = passphrase_gate(AccessPolicy("classroom", sha256_hex("another passphrase")))
    assert passphrase_gate(AccessPolicy("classroom", sha256_hex("another passphrase"))) is gate
    answers = []

    def guess(i: int) -> None:
        answers.append(gate.check(f"s{i}", "wrong", 0.0).state)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # all at the same instant: exactly the free guesses plus one are compared, the rest wait
    assert answers.count("wrong") == FREE_WRONG_GUESSES + 1 and answers.count("wait") == 64 - answers.count("wrong")
