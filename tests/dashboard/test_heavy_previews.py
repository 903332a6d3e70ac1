"""Visitors' style previews share the server's heavy slots (``services.budget``): never more at once than the
cap, the others wait and are told so (counted, never timed)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from singanseg_core.services import budget


def test_style_previews_run_at_most_the_servers_heavy_slots_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.style import preview
    from ui.explorers import preview_in_slot

    cap = budget.DEFAULT_MAX_HEAVY
    monkeypatch.setattr(budget, "_HEAVY", threading.BoundedSemaphore(cap))   # this server's slots, fresh
    lock, release, full = threading.Lock(), threading.Event(), threading.Event()
    active, most, told = [0], [0], []

    def busy_preview(images, style, ratio, steps, progress):  # noqa: ANN001, ANN202 - holds its slot until released
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
            if active[0] == cap:
                full.set()
        assert release.wait(30)
        with lock:
            active[0] -= 1
        return "restyled"

    monkeypatch.setattr(preview, "preview_style", busy_preview)
    visitors = cap + 2
    results: list[str] = []
    image = np.zeros((8, 8, 3), np.uint8)
    threads = [threading.Thread(target=lambda: results.append(
        preview_in_slot([image], image, "1:1000", 2, None, on_wait=told.append))) for _ in range(visitors)]
    for t in threads:
        t.start()
    assert full.wait(30)
    for _ in range(3000):               # the others find every slot taken and are told so (a guard, not a timing)
        if len(told) >= visitors - cap:
            break
        threading.Event().wait(0.01)
    assert len(told) == visitors - cap
    assert active[0] == cap
    release.set()
    for t in threads:
        t.join(30)
    assert most[0] == cap and results == ["restyled"] * visitors
    assert all("busy" in line for line in told)
