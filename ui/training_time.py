"""How long a training will take, said on the Train form before it starts (``training.time_estimate``): from the
workspace's past trainings of the same kind, else from a short measurement, cached per settings and image size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import streamlit as st

from singanseg_core.services.workspace import Workspace
from singanseg_core.training.config import PRESETS, TrainConfig, describe_preset


@st.cache_data(show_spinner="Measuring how fast this machine trains…", max_entries=64, ttl=600)
def _estimate(config_json: str, hw: tuple[int, int], device: str, folders: tuple[str, ...]) -> tuple[float, str]:
    from singanseg_core.training.time_estimate import estimate_for

    return estimate_for(TrainConfig.from_dict(json.loads(config_json)), hw, device, [Path(f) for f in folders])


def _past(ws: Workspace) -> tuple[str, ...]:
    from singanseg_core.training.time_estimate import checkpoint_folders

    return tuple(str(p) for p in checkpoint_folders(ws.checkpoints))


def image_size(path: str | Path) -> tuple[int, int]:
    """``(h, w)`` of an image file from its header (no decoding)."""
    from PIL import Image

    with Image.open(path) as im:
        return int(im.height), int(im.width)


def estimate_caption(ws: Workspace, cfg: TrainConfig, images: Sequence[str | Path], device: str) -> str:
    """One line: how long training ``images`` (one model each, one after another) takes here, and how we know."""
    from singanseg_core.errors import SinGANSegError

    if not images:
        return ""
    past = _past(ws)
    total, how = 0.0, ""
    try:
        for path in images:
            seconds, how = _estimate(json.dumps(cfg.to_dict(), sort_keys=True), image_size(path), device, past)
            total += seconds
    except (SinGANSegError, OSError) as err:  # e.g. CUDA chosen on a machine without it: the job will say so
        return f"No time estimate: {err}"
    from singanseg_core.training.time_estimate import describe_estimate

    return f"Estimated training time on this machine: {describe_estimate(total)} ({how}; the job shows a live ETA)."


def preset_help(ws: Workspace, image: str | Path | None, device: str) -> str:
    """Every preset in one line each, with the minutes for ``image`` on this machine where past trainings of the
    same kind tell (a preset never quotes another machine's time)."""
    return _preset_help(None if image is None else str(image), device, _past(ws))


@st.cache_data(show_spinner=False, max_entries=16, ttl=600)
def _preset_help(image: str | None, device: str, folders: tuple[str, ...]) -> str:
    from singanseg_core.device import resolve_device
    from singanseg_core.training.time_estimate import estimate_seconds, rate_from_records

    from singanseg_core.errors import SinGANSegError

    past, lines = [Path(p) for p in folders], []
    kind = resolve_device(device).type
    for name in PRESETS:
        rate = rate_from_records(past, PRESETS[name], kind) if image is not None else None
        try:
            seconds = estimate_seconds(PRESETS[name], image_size(image), rate) if rate is not None else None
        except (SinGANSegError, OSError):  # an image this preset cannot train: no minutes to quote
            seconds = None
        lines.append(describe_preset(name, seconds))
    return ". ".join(lines) + "."
