"""What test modules share besides fixtures: the shared real data's paths (defined once in ``testkit``), in-memory
zips, and the skip marker for tests that need ``../shared`` (present in CI; absent on a bare checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit import shared_data
from testkit.shared_data import (  # noqa: F401  (re-exported for the test modules)
    FIXTURE_A,
    LEGACY_FILES,
    LEGACY_MODEL_DIR,
    POLYPS,
    POLYPS_STUDY,
    REPO_ROOT,
    SHARED,
    shared_missing,
)
from testkit.zips import make_zip  # noqa: F401

_MISSING = shared_missing()
needs_shared = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")
"""Mark a test (or ``pytestmark`` a module) that reads ``../shared`` by path: skipped, with the reason, when absent."""


def _skip_without_shared() -> None:
    if _MISSING is not None:  # in a test: skip it; while a module is imported: skip the module
        pytest.skip(_MISSING, allow_module_level=True)


def polyp(stem: str) -> tuple[Path, Path]:
    """The image and mask of one real pair in ``../shared/data/polyps``; skips the caller when it is absent."""
    _skip_without_shared()
    return shared_data.polyp(stem)


def polyp_stems() -> list[str]:
    """Every real pair's stem in ``../shared/data/polyps``; skips the caller when it is absent."""
    _skip_without_shared()
    return shared_data.polyp_stems()
