"""Models per hour of the batched trainer for several K, extrapolated to the paper's schedule.

For each K, K models (real polyp pairs sharing one pyramid shape; images are reused with other seeds
when the bucket is smaller than K) are trained together twice with ``niter = window``: a warm-up run
(kernel selection, allocator) and a measured one. Scale ``n`` takes ``T_n`` seconds for ``window``
iterations (``TrainProgress.seconds`` at the last iteration; it includes the amortised random-'prev'
generation, which happens once per ``prev_batch_epochs`` iterations) plus ``S_n`` of set-up and
checkpointing. The projection for ``niter`` iterations per scale is
``sum_n (T_n / window * niter + S_n)`` seconds per group, so ``models/hour = 3600 K / that``.

    python -m bench.bench_batched --device cpu --max-size 40 --ks 1,4,16,64 --window 2
    python -m bench.bench_batched --device cuda --max-size 250 --ks 1,4,16,64 --window 20
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch


from singanseg_core.training import TrainItem, TrainProgress, train_group  # noqa: E402
from singanseg_core.training.fit import pyramid_key  # noqa: E402
from singanseg_core.training.config import TrainConfig  # noqa: E402
from singanseg_core.files.pairs import find_pairs, load_pair  # noqa: E402
from singanseg_core.pyramid.schedule import compute_schedule  # noqa: E402

from testkit.shared_data import POLYPS  # noqa: E402


def largest_bucket(data: Path, cfg: TrainConfig):
    buckets = collections.defaultdict(list)
    for stem, img, msk in find_pairs(data):
        pair = load_pair(img, msk, name=stem)
        buckets[pyramid_key(compute_schedule(*pair.size, cfg.min_size, cfg.max_size, cfg.scale_factor))].append(pair)
    return max(buckets.values(), key=len)


def run_group(pairs, k: int, cfg: TrainConfig, device: str, root: Path) -> tuple[list[float], list[float]]:
    """Train K models once; returns per-scale (iteration seconds, total seconds)."""
    items = [TrainItem(pairs[i % len(pairs)], root / f"m{i}", replace(cfg, seed=1000 + i), name=f"m{i}")
             for i in range(k)]
    iter_s: dict[int, float] = {}
    total_s: dict[int, float] = {}
    t_scale = [time.perf_counter()]

    def progress(ev: TrainProgress) -> None:
        if ev.scale_done:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            total_s[ev.scale] = time.perf_counter() - t_scale[0]
            t_scale[0] = time.perf_counter()
        elif ev.iteration == ev.niter:
            iter_s[ev.scale] = ev.seconds  # the loss read-out synchronises the device

    train_group(items, device=device, progress=progress, overwrite=True, log_every=10**9)
    return [iter_s[n] for n in sorted(iter_s)], [total_s[n] for n in sorted(total_s)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--max-size", type=int, default=40)
    ap.add_argument("--ks", default="1,4,16,64")
    ap.add_argument("--window", type=int, default=2, help="measured iterations per scale")
    ap.add_argument("--niter", type=int, default=2000, help="iterations per scale to extrapolate to (paper: 2000)")
    ap.add_argument("--models", type=int, default=1000, help="dataset size for the projection")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--json", default=None, help="write results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = TrainConfig(max_size=args.max_size, niter=args.window)
    pairs = largest_bucket(POLYPS, cfg)
    sched = compute_schedule(*pairs[0].size, cfg.min_size, cfg.max_size, cfg.scale_factor)
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"device {args.device} ({device_name}), torch threads {torch.get_num_threads()}, max_size {args.max_size}: "
          f"{sched.num_scales} scales {sched.sizes[0]}..{sched.sizes[-1]}, {len(pairs)} distinct images in the bucket, "
          f"window {args.window} it/scale -> extrapolated to {args.niter}", flush=True)
    rows = []
    for k in [int(x) for x in args.ks.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_group(pairs, k, replace(cfg, niter=1), args.device, Path(tmp) / "warm")
            if args.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            iters, totals = run_group(pairs, k, cfg, args.device, Path(tmp) / "run")
            wall = time.perf_counter() - t0
        setup = [max(0.0, t - i) for t, i in zip(totals, iters)]
        group_s = sum(i / args.window * args.niter + s for i, s in zip(iters, setup))
        per_hour = 3600.0 * k / group_s
        row = {"k": k, "iter_seconds_per_scale": [round(x / args.window, 4) for x in iters],
               "setup_seconds_per_scale": [round(x, 3) for x in setup],
               "projected_group_hours": group_s / 3600, "models_per_hour": per_hour,
               "projected_hours_for_models": args.models / per_hour, "bench_wall_seconds": wall}
        if args.device.startswith("cuda"):
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        rows.append(row)
        print(f"K={k:3d}: {per_hour:8.2f} models/h  -> {args.models} models in {args.models / per_hour:9.1f} h "
              f"({args.models / per_hour / 24:6.2f} days)   s/it per scale {row['iter_seconds_per_scale']}"
              + (f"  peak {row['peak_gib']:.1f} GiB" if "peak_gib" in row else "")
              + f"  [bench {wall:.0f} s]", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": args.device, "device_name": device_name,
                                               "max_size": args.max_size, "sizes": sched.sizes,
                                               "window": args.window, "niter": args.niter, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
