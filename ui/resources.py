"""The server's workspace and what pages read from it, cached: models, checkpoint configs, JSON records."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import streamlit as st
from PIL import Image

from singanseg_core.services.workspace import ENV_VAR, Workspace


@st.cache_resource(show_spinner=False)
def _workspace(root: str) -> Workspace:
    from singanseg_core.services.demo import ensure_demo_workspace

    ws = Workspace(root)
    ensure_demo_workspace(ws)
    return ws


def workspace() -> Workspace:
    """The workspace of this server (``$SINGANSEG_WORKSPACE`` or ``./workspace``), demo copied in on first use."""
    return _workspace(str(Path(os.environ.get(ENV_VAR) or "workspace").expanduser().resolve()))


@st.cache_resource(show_spinner=False, max_entries=16)
def _load_model(path: str, mtime: float):  # noqa: ANN202 - SinGANSeg
    from singanseg_core.model import SinGANSeg

    return SinGANSeg.from_pretrained(path, device="cpu")


def load_model(ws: Workspace, name: str):  # noqa: ANN201
    """The checkpoint ``checkpoints/<name>`` (cached; reloaded when its ``config.json`` changes)."""
    path = ws.resolve(Path("checkpoints") / name, must_exist=True)
    cfg = path / "config.json"
    return _load_model(str(path), cfg.stat().st_mtime if cfg.exists() else 0.0)


def real_pair(ws: Workspace, name: str) -> tuple[Image.Image, Image.Image] | None:
    """The training image (RGB) and mask (L) kept with checkpoint ``name``, through the model's own bounded
    readers (never a link, mask at the image's size); ``None`` when the checkpoint does not load."""
    try:
        model = load_model(ws, name)
    except Exception:  # noqa: BLE001 - a partial or broken checkpoint: no pictures, the table says why
        return None
    return model.real_image(), model.real_mask()


@st.cache_data(show_spinner=False, max_entries=64)
def read_json(path: str, mtime: float) -> dict[str, Any]:
    """The JSON object in ``path`` (``mtime``: the cache key), through the bounded reader
    (``files.bounded_json``: one ``UnreadableJSONError`` line for a bad file)."""
    from singanseg_core.files.bounded_json import read_json as read_bounded

    return read_bounded(path)


def checkpoint_config(ws: Workspace, name: str) -> dict[str, Any]:
    """``config.json`` of a checkpoint as a dict (cheap: no weights are read)."""
    path = ws.resolve(Path("checkpoints") / name / "config.json", must_exist=True)
    return read_json(str(path), path.stat().st_mtime)
