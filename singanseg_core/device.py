"""The one device rule, used by training, sampling, style transfer, segmentation, the CLI and the jobs."""

from __future__ import annotations

import torch

from .errors import InputError


def resolve_device(device: "str | torch.device | None" = "auto") -> torch.device:
    """``"auto"`` (or ``None``) → ``cuda`` when a GPU is present, else ``cpu``; ``"cpu"``, ``"cuda"``, ``"cuda:N"``.

    Raises:
        InputError: an unknown device name, or CUDA asked for on a machine without a usable GPU (one line
            saying what to use instead; we never fall back silently, so timings and results are what was asked).
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"device {str(device)!r} is not a device name; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise InputError(f"device {str(device)!r} is not supported; use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise InputError(f"device {str(device)!r} was asked for but no CUDA GPU is available (use cpu or auto)")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(f"device {str(device)!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    return dev


def describe_device(device: torch.device) -> str:
    """One line for people: ``"CPU (2 threads)"`` or ``"GPU 0: NVIDIA H200"``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"GPU {index}: {torch.cuda.get_device_name(index)}"
    return f"CPU ({torch.get_num_threads()} threads)"
