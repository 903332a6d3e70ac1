"""Patch nearest-neighbour baseline (``singanseg_core.baselines.PatchNN``): seconds per sample on the CPU.

For a real polyp at max_size 128 and 250 and 1 / 2 torch threads: the one-off set-up (pyramid, patch
tables, principal directions) and the median seconds per generated sample (one at a time, after one warm-up
sample). ``--exhaustive`` adds the same at 128 px with every scale searched exhaustively (GPNN's plain
search), to show what the local search saves.

Usage: ``python -m bench.bench_patch_nn [--sizes 128 250] [--threads 1 2] [--samples 5] [--exhaustive]
[--data FOLDER]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from bench._results import write_section
from singanseg_core.baselines import PatchNN, PatchNNConfig

from testkit.shared_data import POLYPS as POLYP

STEM = "cju2zp89k9q1g0855k1x0f1xa"


def measure(data: Path, max_size: int, threads: int, samples: int, exhaustive: bool = False) -> dict:
    torch.set_num_threads(threads)
    cfg = PatchNNConfig(max_size=max_size)
    if exhaustive:
        cfg = replace(cfg, exhaustive_max_pairs=1 << 62)
    t0 = time.perf_counter()
    gen = PatchNN.from_files(data / "images" / f"{STEM}.jpg", data / "masks" / f"{STEM}.png", cfg)
    setup = time.perf_counter() - t0
    gen.sample(1, seed=1000)  # warm-up
    times = []
    for i in range(samples):
        t0 = time.perf_counter()
        gen.sample(1, seed=i)
        times.append(time.perf_counter() - t0)
    h, w = gen.size
    return {"size": f"{w}x{h}", "threads": threads, "search": "exhaustive" if exhaustive else "default",
            "setup_s": setup, "sample_s": statistics.median(times), "best_s": min(times), "scales": gen.num_scales}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 250])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--exhaustive", action="store_true")
    ap.add_argument("--data", type=Path, default=POLYP, help="Kvasir-SEG folder holding the polyp")
    args = ap.parse_args()
    rows = [measure(args.data, s, t, args.samples) for s in args.sizes for t in args.threads]
    if args.exhaustive:
        rows += [measure(args.data, 128, t, max(1, args.samples // 5), exhaustive=True) for t in args.threads]
    lines = ["## Patch nearest-neighbour baseline", "",
             f"Polyp `{STEM}`, `PatchNNConfig()` defaults but max_size; {args.samples} samples one at a time after a "
             f"warm-up, CPU; load average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.", "",
             "| size (WxH) | scales | threads | search | set-up s | s / sample (median) | s / sample (best) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['scales']} | {r['threads']} | {r['search']} | {r['setup_s']:.2f} | "
                     f"{r['sample_s']:.2f} | {r['best_s']:.2f} |")
    body = "\n".join(lines)
    print(body)
    write_section(body)


if __name__ == "__main__":
    main()
