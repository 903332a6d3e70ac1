"""The environment of a benchmark's child process: the checkout (and the original code's folder, when it was
installed outside the environment) on ``PYTHONPATH``, so ``python -m bench.X`` children import what the parent does."""

from __future__ import annotations

import os

from bench._original import original_path
from testkit.shared_data import REPO_ROOT


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` plus ``extra``, with the checkout first on ``PYTHONPATH`` (then the original's folder)."""
    ref = original_path()
    parts = [str(REPO_ROOT), os.environ.get("PYTHONPATH"), str(ref) if ref else None]
    return dict(os.environ, **extra, PYTHONPATH=os.pathsep.join(p for p in parts if p))
