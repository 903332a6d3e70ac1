"""The one save/load contract of every model this project writes (SinGAN-Seg pyramids and UNet++ segmenters).

A model is a folder::

    config.json        a JSON object with "kind" (what model it is) and "format_version", plus the model's config
    model.safetensors  every tensor, by name (safetensors: no code, no pickle)

Both files are written to temporary names first and renamed into place together, ``model.safetensors`` before
``config.json``, so a reader that finds a config finds the weights it describes, and a full disk leaves the
previous pair as it was. Reading never unpickles anything and is bounded: the config
may hold at most :data:`MAX_CONFIG_BYTES`, the weights at most what the caller says the architecture needs.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Collection, Mapping

import torch

from .errors import CheckpointError
from .files.atomic import atomic_write_together
from .files.bounded_json import read_json

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MAX_CONFIG_BYTES = 1 << 20  # 1 MiB; real configs are a few KB


def save_pretrained(folder: str | os.PathLike, kind: str, version: int, config: Mapping[str, Any],
                    tensors: Mapping[str, torch.Tensor], extra: Mapping[str, bytes] | None = None) -> Path:
    """Write ``tensors`` and then ``config`` (with ``kind`` and ``format_version`` set) into ``folder``.

    ``extra``: more files (name → bytes) that belong to this state, e.g. a trainer's resume state; they are
    written in the same all-or-nothing set, so they never describe another state than the weights."""
    from safetensors.torch import save as st_save

    folder = Path(folder)
    host = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    weights = st_save(host, metadata={"kind": kind, "format_version": str(version)})
    text = json.dumps({**config, "kind": kind, "format_version": version}, indent=2, sort_keys=True) + "\n"
    atomic_write_together([*((folder / name, data) for name, data in (extra or {}).items()),
                           (folder / WEIGHTS_NAME, weights), (folder / CONFIG_NAME, text.encode("utf-8"))])
    return folder


def read_config(folder: str | os.PathLike, kind: str, versions: Collection[int],
                unlabelled_ok: bool = False) -> dict[str, Any]:
    """``folder/config.json`` as a dict, checked to be a bounded JSON object of this ``kind`` and a known version.

    Args:
        unlabelled_ok: accept a config without ``"kind"`` (files written before the field existed).
    Raises:
        CheckpointError: naming the file and the problem (missing, too large, not JSON, not an object, wrong
            kind, unknown version); a file that cannot be parsed at all raises its subclass
            :class:`.files.bounded_json.UnreadableJSONError`.
    """
    folder = Path(folder)
    path = folder / CONFIG_NAME
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: checkpoint folder not found")
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path}: {size} bytes; a config may hold at most {MAX_CONFIG_BYTES} bytes")
    data = read_json(path, MAX_CONFIG_BYTES, expect=None)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, found a {type(data).__name__}")
    found = data.get("kind")
    if found is None and not unlabelled_ok:
        raise CheckpointError(f"{path}: no \"kind\"; expected a {kind} model")
    if found is not None and found != kind:
        raise CheckpointError(f"{path}: holds a {found!r} model, not a {kind} model")
    if data.get("format_version") not in versions:
        raise CheckpointError(f"{path}: unsupported format_version {data.get('format_version')!r} "
                              f"(this version reads {', '.join(map(str, sorted(versions)))})")
    return data


def read_weights(folder: str | os.PathLike, max_bytes: int, require_finite: bool = True) -> dict[str, torch.Tensor]:
    """``folder/model.safetensors`` on the CPU, refused when larger than ``max_bytes`` or (by default) non-finite.

    ``max_bytes`` is what the architecture described by the config can need; a larger file is refused before
    it is read, so a tampered file cannot make us allocate more.
    """
    from safetensors.torch import load_file

    path = Path(folder) / WEIGHTS_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    size = path.stat().st_size
    if size > max_bytes:
        raise CheckpointError(f"{path}: {size} bytes, but the model its config describes needs at most "
                              f"{max_bytes} bytes; refused")
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"{path}: unreadable safetensors file ({str(err).splitlines()[0][:200]})") from None
    if require_finite:
        for name, t in tensors.items():
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise CheckpointError(f"{path}: tensor {name} holds NaN or infinite values")
    return tensors


def tensor_bytes(shapes: Collection[tuple[int, ...]], itemsize: int = 4) -> int:
    """Bytes of float tensors of these shapes, plus room for the safetensors header (names, offsets)."""
    return sum(math.prod(s) * itemsize for s in shapes) + 64 * 1024 + 256 * len(shapes)
