"""``ModelConfig``: everything needed to rebuild a trained pyramid, as stored in ``config.json``, with the checks
that make a config from an untrusted folder safe to run; and the one rule for "is this checkpoint finished".
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import CheckpointError
from ..files.bounded_json import UnreadableJSONError
from ..networks.singan import noise_pad
from ..persistence import CONFIG_NAME, read_config

KIND = "singanseg"
FORMAT_VERSION = 1
MAX_SCALES = 64              # the original's pyramids have 8-12 scales
MAX_SIDE = 4096              # px, any scale
MAX_NFC = 1024
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a model name, or ``None``. THE model-name rule: a model's name becomes part of
    sample file names, so it is one plain file-name component (letters, digits, '.', '_', '-'; 1-128
    characters, starting with a letter or digit, so never '/', '..' or a hidden name)."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        return (f"name {str(name)[:80]!r} must be a plain name (letters, digits, '.', '_', '-'; at most 128; no '/' "
                "or '..')")
    return None


def model_name_from(text: str) -> str:
    """A valid model name made from ``text`` (e.g. an image file's stem): other characters become ``_``."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._-")[:128]
    return clean or "model"


@dataclass
class ModelConfig:
    """Everything needed to rebuild and run a trained model (stored as ``config.json``).

    Sizes are ``(h, w)`` in pixels, coarse to fine; ``noise_amp[0]`` is 1 by construction.
    """

    nc_im: int
    nc_z: int
    ker_size: int
    num_layer: int
    nfc: list[int]
    scale_factor: float
    sizes: list[list[int]]
    noise_amp: list[float]
    faithful_resize: bool = True
    num_trained: int | None = None          # < total_scales while training is in progress
    total_scales: int | None = None         # scales the schedule asked for
    name: str = "model"
    source: dict[str, Any] = field(default_factory=dict)     # image/mask names, content hash, origin
    train: dict[str, Any] = field(default_factory=dict)      # TrainConfig as a dict + timings
    format_version: int = FORMAT_VERSION

    @property
    def num_scales(self) -> int:
        return len(self.nfc)

    @property
    def finished(self) -> bool:
        """All scales the schedule asked for are trained (imported models have no schedule: finished)."""
        return self.total_scales is None or self.num_scales >= self.total_scales

    @property
    def pad(self) -> int:
        return noise_pad(self.ker_size, self.num_layer)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, path: Path | str | None = None) -> "ModelConfig":
        """Build and validate (see :meth:`validate`); raises ``CheckpointError`` naming ``path``."""
        where = f"{path}: " if path else ""
        if not isinstance(data, dict):
            raise CheckpointError(f"{where}config is not a JSON object")
        if data.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{where}unsupported checkpoint format_version {data.get('format_version')!r} "
                                  f"(expected {FORMAT_VERSION})")
        try:
            cfg = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError as err:
            raise CheckpointError(f"{where}config.json is incomplete: {err}") from None
        problem = cfg.problem()
        if problem:
            raise CheckpointError(f"{where}{problem}")
        return cfg

    def problem(self) -> str | None:
        """Why this config cannot describe a model we may run, or ``None``.

        Checks types and ranges, that the per-scale lists agree, that the name is a plain file-name component
        (it becomes part of sample file names), and that ``scale_factor`` matches the sizes (it sets how large
        each upsampled map is, so a wrong one could ask for gigabytes).
        """
        def is_int(x: Any, lo: int, hi: int) -> bool:
            return isinstance(x, int) and not isinstance(x, bool) and lo <= x <= hi

        def is_num(x: Any) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

        if not is_int(self.nc_im, 1, 4) or self.nc_z != self.nc_im:
            return f"nc_im={self.nc_im!r}, nc_z={self.nc_z!r}: expected 3 or 4 channels, nc_z equal to nc_im"
        if not is_int(self.ker_size, 1, 7) or self.ker_size % 2 == 0 or not is_int(self.num_layer, 3, 8):
            return f"ker_size={self.ker_size!r}, num_layer={self.num_layer!r} are outside the supported range"
        for key in ("nfc", "sizes", "noise_amp"):
            if not isinstance(getattr(self, key), list):
                return f"{key} must be a list"
        n = len(self.nfc)
        if not 1 <= n <= MAX_SCALES or len(self.sizes) != n or len(self.noise_amp) != n:
            return (f"config lists {n} nfc, {len(self.sizes)} sizes and {len(self.noise_amp)} noise amplitudes; they "
                    f"must agree (1 to {MAX_SCALES} scales)")
        if not all(is_int(c, 1, MAX_NFC) for c in self.nfc):
            return f"nfc {self.nfc} must be integers in 1..{MAX_NFC}"
        min_side = 2 * self.pad + 1
        if not all(isinstance(s, list) and len(s) == 2 and all(is_int(v, min_side, MAX_SIDE) for v in s)
                   for s in self.sizes):
            return f"sizes must be [h, w] pairs of integers in {min_side}..{MAX_SIDE}"
        if not all(is_num(a) and a >= 0 for a in self.noise_amp):
            return "noise_amp must be finite numbers >= 0"
        if not (is_num(self.scale_factor) and 0.05 <= self.scale_factor < 1):
            return f"scale_factor {self.scale_factor!r} must be in [0.05, 1)"
        for (h0, w0), (h1, w1) in zip(self.sizes, self.sizes[1:]):
            for a, b in ((h0, h1), (w0, w1)):  # upsampling a by 1/scale_factor must give about b
                if abs(a / self.scale_factor - b) > max(3.0, 0.15 * b):
                    return (f"scale_factor {self.scale_factor:.6g} does not match the sizes {self.sizes} "
                            f"({a} px / {self.scale_factor:.4g} is not about {b} px)")
        bad_name = name_problem(self.name)
        if bad_name:
            return bad_name
        if self.num_trained is not None and not is_int(self.num_trained, 0, MAX_SCALES):
            return f"num_trained {self.num_trained!r} is not a scale count"
        if self.total_scales is not None and not is_int(self.total_scales, 1, MAX_SCALES):
            return f"total_scales {self.total_scales!r} is not a scale count"
        if not isinstance(self.faithful_resize, bool) or not isinstance(self.source, dict) \
                or not isinstance(self.train, dict):
            return "faithful_resize must be true/false; source and train must be objects"
        return None


CheckpointState = Literal["missing", "partial", "finished", "broken"]


@dataclass(frozen=True)
class CheckpointStatus:
    """What a folder holds: ``state`` and, for ``broken``, why (one line); ``config`` when readable;
    ``unreadable``: the why when ``config.json`` could not even be parsed (bad bytes, huge numbers, deep nesting)."""

    state: CheckpointState
    message: str = ""
    config: ModelConfig | None = None
    unreadable: str = ""


def checkpoint_status(folder: str | os.PathLike) -> CheckpointStatus:
    """The one definition of a finished / partial / broken checkpoint folder (reads only ``config.json``).

    ``missing``: no ``config.json``; ``broken``: it cannot be read or fails validation; ``partial``: training
    stopped before the last scale (resumable); ``finished``: every scale is trained.
    """
    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file():
        return CheckpointStatus("missing", f"{folder}: no {CONFIG_NAME}")
    try:
        cfg = ModelConfig.from_dict(read_config(folder, KIND, {FORMAT_VERSION}, unlabelled_ok=True),
                                    folder / CONFIG_NAME)
    except UnreadableJSONError as err:
        return CheckpointStatus("broken", str(err), unreadable=err.why)
    except CheckpointError as err:
        return CheckpointStatus("broken", str(err))
    if not (folder / "model.safetensors").is_file():
        return CheckpointStatus("broken", f"{folder}: model.safetensors is missing", cfg)
    return CheckpointStatus("finished" if cfg.finished else "partial", "", cfg)


def is_finished_checkpoint(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a readable checkpoint whose every scale is trained."""
    return checkpoint_status(folder).state == "finished"
