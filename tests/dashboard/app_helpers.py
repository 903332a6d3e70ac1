"""What the dashboard's AppTest modules share: open a page, insist it shows no error, find a widget by key."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from singanseg_core.services.workspace import Workspace
from tests.helpers import REPO_ROOT as ROOT


def page(path: str) -> AppTest:
    """An AppTest of ``path`` (relative to the repository root), not yet run."""
    return AppTest.from_file(str(ROOT / path), default_timeout=120)


def ok(at: AppTest) -> AppTest:
    """No exception element and no error line on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def by_key(at: AppTest, kind: str, key: str):  # noqa: ANN201
    for w in getattr(at, kind):
        if w.key == key:
            return w
    raise AssertionError(f"no {kind} with key {key!r}")


def png(arr: np.ndarray) -> bytes:
    """``arr`` (H, W[, C]) uint8 as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def save_samples(ws: Workspace, name: str = "set1", n: int = 4) -> Path:
    from singanseg_core.model import SinGANSeg
    from singanseg_core.sampling.writer import write_samples

    ck = ws.list_checkpoints()[0]
    write_samples(SinGANSeg.from_pretrained(ws.checkpoints / ck), ws.samples / name, n, seed=1)
    return ws.samples / name
