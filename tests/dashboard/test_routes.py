"""The page list, the sidebar drawn once by ``app.py``, and pages that use the core's helpers (under AppTest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page, save_samples
from ui.page_list import PAGES, page_path, page_slug

ROOT = Path(__file__).resolve().parents[2]


def test_page_urls_stay_as_they_were_and_every_page_exists() -> None:
    assert [page_slug(p.label) for p in PAGES] == ["Home", "Checkpoints", "Sample", "How_it_works", "Style_transfer",
                                                   "Mask_statistics", "Augmentation_study"]  # browser deep links
    assert all((ROOT / p.path).is_file() for p in PAGES)
    assert {p.path for p in PAGES} == {f"pages/{f.name}" for f in (ROOT / "pages").glob("*.py")}
    assert page_path("Sample") == "pages/Sample.py"


@pytest.mark.slow
def test_app_draws_the_sidebar_once_and_pages_do_not(demo_ws: Workspace) -> None:
    at = ok(page("app.py").run())
    for entry in PAGES[1:]:
        at = ok(at.switch_page(entry.path).run())
        assert [t.key for t in at.toggle].count("_projector_toggle") == 1, entry.path
        assert sum("Workspace: `" in c.value for c in at.sidebar.caption) == 1, entry.path
    alone = ok(page(page_path("Checkpoints")).run())
    assert not [t for t in alone.toggle if t.key == "_projector_toggle"]


def test_home_describes_the_device_with_the_core(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import singanseg_core.device as device

    seen = []
    monkeypatch.setattr(device, "describe_device", lambda d: seen.append(d) or f"the core's line for {d.type}")
    at = ok(page("app.py").run())
    assert seen and seen[0] == device.resolve_device("auto")
    assert any(f"Device: the core's line for {seen[0].type}" in box.value for box in list(at.info) + list(at.success))


def test_mask_statistics_shows_the_cores_mean_and_std(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.analysis import stats

    save_samples(demo_ws, "set1", n=3)
    asked: list[tuple[str, str]] = []
    real = stats.checkpoint_mean_std

    def spy(samples_dir, checkpoint):  # noqa: ANN001, ANN202
        asked.append((str(samples_dir), checkpoint))
        return real(samples_dir, checkpoint)

    monkeypatch.setattr(stats, "checkpoint_mean_std", spy)
    at = ok(page(page_path("Mask statistics")).run())
    ck = by_key(at, "selectbox", "ms_ck").value
    assert asked and asked[-1][1] == ck
    mean, std = real(asked[-1][0], ck)
    assert mean.shape == std.shape and 0 <= float(np.min(mean)) and float(np.max(std)) <= 0.5
