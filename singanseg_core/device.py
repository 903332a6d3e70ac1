"""The one device rule, used by training, sampling, style transfer, segmentation, the CLI and the jobs."""

from __future__ import annotations

import contextlib

import torch

from .errors import InputError

COMPILE_BACKEND = "inductor"  # torch.compile backend of every compiled path (tests patch a lighter one)


def compile_module(module: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile(module)`` with **the** backend :data:`COMPILE_BACKEND` (read at call time)."""
    return torch.compile(module, backend=COMPILE_BACKEND)  # type: ignore[return-value]


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


# ---------------------------------------------------------------------------------------------- precision
PRECISIONS = ("fp32", "bf16", "fp16")


def cpu_has_bf16() -> bool:
    """Native bf16 dot products on this CPU (AVX512-BF16 or AMX); elsewhere oneDNN would only emulate bf16."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except Exception:  # noqa: BLE001 - private helpers may move between torch versions
        return False


def autocast_dtype(device: "str | torch.device", precision: str) -> "torch.dtype | None":
    """The autocast dtype of ``precision`` on ``device``: ``None`` for ``"fp32"`` (no autocast, the default math),
    ``torch.bfloat16`` for ``"bf16"`` (CUDA GPUs that support it, CPUs with AVX512-BF16 or AMX), ``torch.float16``
    for ``"fp16"`` (CUDA only; training pairs it with a gradient scaler).

    The one place that decides whether reduced precision may run here: training, sampling and style transfer
    all ask it.

    Raises:
        InputError: an unknown precision, or one this hardware cannot run natively (we never fall back
            silently, so timings and results are what was asked for).
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    dev = torch.device(device)
    if precision == "bf16":
        if dev.type == "cuda":
            if not torch.cuda.is_bf16_supported():
                raise InputError("precision bf16 was asked for but this GPU has no bf16 support; use fp16 or fp32")
            return torch.bfloat16
        if dev.type == "cpu":
            if not cpu_has_bf16():
                raise InputError("precision bf16 was asked for but this CPU has no native bf16 instructions "
                                 "(AVX512-BF16 or AMX); use fp32")
            return torch.bfloat16
    if precision == "fp16" and dev.type == "cuda":
        return torch.float16
    raise InputError(f"precision {precision} is not supported on device {dev.type} "
                     f"({'fp16 needs a CUDA GPU' if precision == 'fp16' else 'use fp32'})")


def autocast(device: "str | torch.device", precision: str) -> "contextlib.AbstractContextManager":
    """A fresh context that runs its block in ``precision`` on ``device`` (:func:`autocast_dtype`); a no-op for
    ``"fp32"``, so the default path is exactly the code without it."""
    dtype = autocast_dtype(device, precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
