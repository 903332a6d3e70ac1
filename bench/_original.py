"""The one way benchmarks load the original authors' code: PyPI ``singan-seg-polyp==1.0.7``.

Already importable (installed in the environment) → used as it is. Otherwise it is installed once, without its
(stale) dependency list, into a folder in the system's temporary directory, outside the checkout, and that folder
is put on ``sys.path`` (and on the ``PYTHONPATH`` of benchmark subprocesses, :func:`bench._children.child_env`).
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

REF_PACKAGE, REF_VERSION = "singan-seg-polyp", "1.0.7"
REF_MODULE = "singan_seg_polyp"
REF_DIR = Path(tempfile.gettempdir()) / f"singanseg-bench-ref-{REF_VERSION}"
INSTALL_HINT = f"pip install --no-deps {REF_PACKAGE}=={REF_VERSION}"


def original_path() -> Path | None:
    """The folder to add to ``PYTHONPATH`` for the original (``REF_DIR`` when it holds it), else ``None``."""
    return REF_DIR if (REF_DIR / REF_MODULE).is_dir() else None


def ensure_original(install: bool = True) -> None:
    """Make ``singan_seg_polyp`` importable: from the environment, from :data:`REF_DIR`, or (``install``) by
    installing it there with ``--no-deps``. Raises ``SystemExit`` with a one-line reason when it cannot."""
    if importlib.util.find_spec(REF_MODULE) is not None:
        return
    if str(REF_DIR) not in sys.path:
        sys.path.append(str(REF_DIR))
    importlib.invalidate_caches()
    if importlib.util.find_spec(REF_MODULE) is not None:
        return
    if not install:
        raise SystemExit(f"the original code is needed: {INSTALL_HINT}")
    REF_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--target", str(REF_DIR), f"{REF_PACKAGE}=={REF_VERSION}"])
    importlib.invalidate_caches()
    if done.returncode or importlib.util.find_spec(REF_MODULE) is None:
        raise SystemExit(f"could not install the original code into {REF_DIR}: {INSTALL_HINT}")
