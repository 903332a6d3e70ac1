"""Counting the floating-point work of a piece of code, and this machine's measured peak.

``CountFlops`` is a ``TorchDispatchMode`` that adds up torch's own FLOP formulas
(``torch.utils.flop_counter.flop_registry``: convolutions, their backward, matmuls) for every op that
runs inside it, double backward included. ``torch.utils.flop_counter.FlopCounterMode`` does the same but
installs module hooks that break ``autograd.grad(create_graph=True)`` (the WGAN-GP), hence this small mode.
Used by the benchmarks to say how close to the machine's limit each implementation runs.
"""

from __future__ import annotations

import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class CountFlops(TorchDispatchMode):
    """``with CountFlops() as fc: ...`` then ``fc.total`` (FLOPs, one multiply-add = 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += int(formula(*args, **kwargs, out_val=out))
        return out


def matmul_peak_gflops(threads: int | None = None, n: int = 2048, repeats: int = 8) -> float:
    """Best-of-``repeats`` fp32 GFLOP/s of an ``n``×``n`` matmul: the practical compute ceiling here."""
    if threads:
        torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9
