"""Shared fixtures: a workspace pre-populated with the embedded demo (dataset + checkpoints)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the pages import the ui package from the repository root
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo workspace built per test session; tests get copies of it."""
    from singanseg_core.services.demo import ensure_demo_workspace
    from singanseg_core.services.workspace import Workspace

    root = tmp_path_factory.mktemp("demo-template") / "ws"
    ws = Workspace(root)
    assert ensure_demo_workspace(ws), "the demo assets are missing (singanseg_core/demo_assets)"
    return root


@pytest.fixture
def demo_ws(_demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh copy of the demo workspace, also set as ``SINGANSEG_WORKSPACE``."""
    from singanseg_core.services.workspace import Workspace

    root = tmp_path / "ws"
    shutil.copytree(_demo_template, root)
    monkeypatch.setenv("SINGANSEG_WORKSPACE", str(root))
    return Workspace(root)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny convolutions on a 2-core machine run faster on one intra-op thread (used by modules that opt in)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
