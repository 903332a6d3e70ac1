"""What test modules share besides fixtures: the shared real data's paths (defined once in ``testkit``), in-memory
zips, and the skip marker for tests that need ``../shared`` (present in CI; absent on a bare checkout)."""

from __future__ import annotations

import pytest

from testkit.shared_data import (  # noqa: F401  (re-exported for the test modules)
    FIXTURE_A,
    LEGACY_FILES,
    LEGACY_MODEL_DIR,
    POLYPS,
    POLYPS_STUDY,
    REPO_ROOT,
    SHARED,
    polyp,
    polyp_stems,
    shared_missing,
)
from testkit.zips import make_zip  # noqa: F401

_MISSING = shared_missing()
needs_shared = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")
"""Mark a test (or ``pytestmark`` a module) that reads ``../shared``: skipped with the reason when it is absent."""
