"""Faster paths: each option against the fp32 default, training and sampling, in one run.

Training variants (``TrainConfig`` overrides): ``fp32`` (the default), ``bf16`` (CPU with AVX512-BF16/AMX, or
CUDA), ``fp16`` (CUDA, with a gradient scaler), ``compile`` (torch.compile of G and D), ``concurrent`` (the
ConSinGAN-style schedule). For each: steady seconds per iteration (mean over scales, measured between the
middle and the last iteration of each scale, so compiling is left out), the whole-model time projected to
``--project-iters`` iterations per scale (what a user waits for; the concurrent schedule has fewer scales), the
measured wall time (compiling included), peak memory, and two fidelity proxies of the tiny model: the
reconstruction RMSE on [-1, 1] and the share of empty masks in 16 samples (the real fidelity verdict is
``bench/bench_fidelity.py``'s).

Sampling variants (one fp32-trained model): ``fp32`` eager (the default), ``bf16``, ``fp16`` (CUDA),
``compile`` (BatchNorm folded, torch.compile), ``compile+bf16``: samples per second after a warm-up call
(timed apart: the compile time), peak memory, and the mean |difference| in grey levels and the mask agreement
against the fp32 samples of the same seed.

Every variant runs in its own subprocess, one after another (peak memory = that process's ru_maxrss on a CPU,
``torch.cuda.max_memory_allocated`` on a GPU); ratios are against the fp32 default of the same run. A variant the
hardware cannot run is listed as such (the device rule's message).

Usage::

    nice python -m bench.bench_fast_paths --max-size 48 --iters 20 --samples 32 --threads 1
    python -m bench.bench_fast_paths --device cuda --max-size 250 --iters 100 --samples 512
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._children import child_env
from testkit.shared_data import POLYPS as POLYP, REPO_ROOT as ROOT

STEM = "cju2zp89k9q1g0855k1x0f1xa"

TRAIN_VARIANTS: dict[str, dict] = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "fp16": {"precision": "fp16"},
    "compile": {"compile": True},
    "concurrent": {"schedule": "concurrent"},
    "concurrent+bf16": {"schedule": "concurrent", "precision": "bf16"},
}
SAMPLE_VARIANTS: dict[str, dict] = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "fp16": {"precision": "fp16"},
    "compile": {"compile": True},
    "compile+bf16": {"compile": True, "precision": "bf16"},
}


# ---------------------------------------------------------------------------------------------- children
def _peak_mb(device: str) -> float:
    import resource

    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _train_child(spec: dict) -> dict:
    import numpy as np
    import torch

    from singanseg_core.files.pairs import load_pair
    from singanseg_core.training import TrainConfig, TrainItem, train_group

    cfg = TrainConfig(max_size=spec["max_size"], niter=spec["iters"], seed=0, **spec["overrides"]).validated()
    half = max(1, spec["iters"] // 2)
    marks: dict[int, dict[int, float]] = {}

    def progress(ev):
        if ev.losses:
            marks.setdefault(ev.scale, {})[ev.iteration] = ev.seconds  # the loss read-out synchronises a GPU

    image, mask = POLYP / "images" / f"{STEM}.jpg", POLYP / "masks" / f"{STEM}.png"
    t0 = time.perf_counter()
    item = TrainItem(load_pair(image, mask), Path(spec["work"]) / "ck", cfg)
    model = train_group([item], spec["device"], progress, log_every=half)[0]
    wall = time.perf_counter() - t0
    steady = []
    for scale, m in sorted(marks.items()):
        last = max(m)
        steady.append((m[last] - m[half]) / (last - half) if last > half else m[last] / last)
    rec = model.reconstruct()
    rmse = float(torch.sqrt(((rec - model.reals[-1]) ** 2).mean()))
    samples = model.sample(16, 0, seed=1)
    masks = samples.masks
    return {"true_pct": float(np.mean(samples.true_pixel_pct)),
            "real_pct": float((model.reals[-1][0, -1] > 0).float().mean() * 100),"scales": model.num_scales, "steady_s_it": float(np.mean(steady)), "scale_s_it": steady,
            "wall_s": wall, "peak_mb": _peak_mb(spec["device"]), "rec_rmse": rmse,
            "empty_masks": float((masks.reshape(16, -1).max(axis=1) == 0).mean())}


def _sample_child(spec: dict) -> dict:
    import numpy as np

    from singanseg_core.model import SinGANSeg

    model = SinGANSeg.from_pretrained(spec["checkpoint"], device=spec["device"])
    opts, bs = spec["overrides"], spec["batch"]
    t0 = time.perf_counter()
    model.sample(bs, 0, seed=0, batch_size=bs, **opts)  # warm-up: compiles when compiling
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = model.sample(spec["samples"], 0, seed=1, batch_size=bs, **opts)
    seconds = time.perf_counter() - t0
    np.savez(Path(spec["work"]) / "samples.npz", images=out.images, masks=out.masks)
    return {"samples_s": spec["samples"] / seconds, "first_call_s": first, "peak_mb": _peak_mb(spec["device"])}


def _child(spec: dict) -> dict:
    import torch

    torch.set_num_threads(spec["threads"])
    from singanseg_core.device import autocast_dtype
    from singanseg_core.errors import InputError

    try:
        autocast_dtype(spec["device"], spec["overrides"].get("precision", "fp32"))
    except InputError as err:
        return {"skipped": str(err)}
    if spec["device"].startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    return _train_child(spec) if spec["kind"] == "train" else _sample_child(spec)


def _spawn(spec: dict) -> dict:
    env = child_env(PYTHONWARNINGS="ignore", OMP_NUM_THREADS=str(spec["threads"]))
    try:
        out = subprocess.run([sys.executable, "-m", "bench.bench_fast_paths", "--child", json.dumps(spec)],
                             capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=spec.get("timeout"))
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {spec['timeout']} s"}
    if out.returncode != 0:
        return {"failed": (out.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- the run
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--max-size", type=int, default=48)
    ap.add_argument("--iters", type=int, default=20, help="iterations per scale in the training runs")
    ap.add_argument("--project-iters", type=int, default=2000, help="iterations per scale to project to (paper)")
    ap.add_argument("--samples", type=int, default=32, help="samples per timed sampling run")
    ap.add_argument("--batch", type=int, default=None, help="sampling batch (default: 4 on a CPU, 64 on a GPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--train-variants", default=",".join(TRAIN_VARIANTS),
                    help="comma-separated; NAME@N trains that variant with N iterations per scale (equal-time runs)")
    ap.add_argument("--sample-variants", default=",".join(SAMPLE_VARIANTS))
    ap.add_argument("--variant-timeout", type=float, default=None,
                    help="seconds one variant may take (a slow compile is reported as timed out, the rest goes on)")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    batch = args.batch or (64 if args.device.startswith("cuda") else 4)
    common = {"device": args.device, "threads": args.threads, "max_size": args.max_size, "iters": args.iters,
              "timeout": args.variant_timeout}
    train_rows, sample_rows = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.train_variants.split(","):
            variant, _, iters = name.partition("@")  # "concurrent@150": another iteration count per scale
            work = Path(tmp) / f"train-{name}"
            work.mkdir()
            train_rows[name] = _spawn({**common, "kind": "train", "overrides": TRAIN_VARIANTS[variant],
                                       "work": str(work), **({"iters": int(iters)} if iters else {})})
            print(f"train {name}: {train_rows[name]}", file=sys.stderr)
        checkpoint = next((Path(tmp) / f"train-{n}" / "ck" for n in args.train_variants.split(",")
                           if n.partition("@")[0] == "fp32"), Path(tmp) / "train-fp32" / "ck")
        if not (checkpoint / "config.json").is_file():
            raise SystemExit("the fp32 training run failed; nothing to sample from")
        for name in args.sample_variants.split(","):
            work = Path(tmp) / f"sample-{name}"
            work.mkdir()
            sample_rows[name] = _spawn({**common, "kind": "sample", "overrides": SAMPLE_VARIANTS[name],
                                        "work": str(work), "checkpoint": str(checkpoint), "samples": args.samples,
                                        "batch": batch})
            if (work / "samples.npz").is_file():
                sample_rows[name].update(_agreement(Path(tmp) / "sample-fp32" / "samples.npz", work / "samples.npz"))
            print(f"sample {name}: {sample_rows[name]}", file=sys.stderr)
    table = _tables(train_rows, sample_rows, args)
    print(table)
    if not args.no_write:
        _write(table, args, batch)


def _agreement(ref_path: Path, path: Path) -> dict:
    import numpy as np

    ref, got = np.load(ref_path), np.load(path)
    diff = np.abs(ref["images"].astype(np.int16) - got["images"].astype(np.int16))
    return {"grey_diff": float(diff.mean()), "grey_max": int(diff.max()),
            "mask_agree": float((ref["masks"] == got["masks"]).mean())}


def _tables(train_rows: dict, sample_rows: dict, args: argparse.Namespace) -> str:
    base = next((r for n, r in train_rows.items() if n.partition("@")[0] == "fp32"), {})
    lines = ["| training | scales | steady s/it (mean over scales) | speed-up | projected s/model at "
             f"{args.project_iters} it/scale | speed-up (projected) | measured wall s (compiling incl.) | peak MB | "
             "rec RMSE | empty masks /16 | true-pixel % samples / real |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in train_rows.items():
        if "steady_s_it" not in r:
            lines.append(f"| {name} | {r.get('skipped') or 'failed: ' + r.get('failed', '?')} ||||||||||")
            continue
        proj = sum(r["scale_s_it"]) * args.project_iters
        bproj = sum(base["scale_s_it"]) * args.project_iters if "scale_s_it" in base else float("nan")
        lines.append(f"| {name} | {r['scales']} | {r['steady_s_it']:.4f} | "
                     f"{base.get('steady_s_it', float('nan')) / r['steady_s_it']:.2f}x | {proj:.0f} | "
                     f"**{bproj / proj:.2f}x** | {r['wall_s']:.1f} | {r['peak_mb']:.0f} | {r['rec_rmse']:.3f} | "
                     f"{round(r['empty_masks'] * 16)} | {r['true_pct']:.1f} / {r['real_pct']:.1f} |")
    sbase = sample_rows.get("fp32", {})
    lines += ["", "| sampling | samples/s | speed-up | first call s (compiling incl.) | peak MB | mean / max abs. "
              "difference, grey levels vs fp32 | masks agree |", "|---|---|---|---|---|---|---|"]
    for name, r in sample_rows.items():
        if "samples_s" not in r:
            lines.append(f"| {name} | {r.get('skipped') or 'failed: ' + r.get('failed', '?')} ||||||")
            continue
        ratio = r["samples_s"] / sbase.get("samples_s", float("nan"))
        lines.append(f"| {name} | {r['samples_s']:.1f} | **{ratio:.2f}x**"
                     f" | {r['first_call_s']:.1f} | {r['peak_mb']:.0f} | {r.get('grey_diff', float('nan')):.2f} / "
                     f"{r.get('grey_max', '-')} | {100 * r.get('mask_agree', float('nan')):.1f} % |")
    return "\n".join(lines)


def _write(table: str, args: argparse.Namespace, batch: int) -> None:
    import platform

    import torch

    from bench._results import write_section

    where = (torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda")
             else f"{platform.machine()} CPU, {args.threads} thread(s)")
    cmd = (f"python -m bench.bench_fast_paths --device {args.device} --max-size {args.max_size} --iters {args.iters} "
           f"--samples {args.samples} --threads {args.threads}")
    section = (f"## Faster paths ({args.device})\n\n`{cmd}` on {where}, torch {torch.__version__}; input: Kvasir-SEG "
               f"`{STEM}`, seed 0; sampling batch {batch}. Each variant in its own subprocess, one after another; "
               "ratios against the fp32 default of the same run. Steady s/it leaves compiling out (middle to last "
               "iteration of each scale); the projection multiplies each scale's steady s/it by the paper's "
               "iterations. rec RMSE and empty masks are fidelity proxies of a tiny model, not the verdict "
               "(`bench/bench_fidelity.py`).\n\n" + table + "\n")
    write_section(section)


if __name__ == "__main__":
    main()
