"""The ``quick`` preset on real polyps: training time and empty masks at start scale 0.

The targets: on the 2-core CPU a quick model of a polyp trains in ≤ 5 minutes and has ≤ 5 % empty masks at
start scale 0. Small polyps are the hard case (a patch GAN loses a rare object easily), so by default this trains
on three polyps of ``../shared/data/polyps`` picked by their mask's true-pixel %: the two smallest objects and the
median one. For every variant × polyp × model seed: one model (all ``--threads`` torch threads, as a dashboard user
on this machine gets), its wall-clock training time, and ``--n`` samples at start scale 0 (and, for comparison,
start scale 1) with the share of empty masks (no true pixel) and the mean true-pixel % against the real mask's.

Variants: preset names (``quick``, ``paper``, ``tiny``) or ``NAME:key=value[,key=value]`` = the paper's settings
with those ``TrainConfig`` fields changed (by default ``quick25:max_size=64,min_size=25,niter=200``: the preset as it
was before its coarsest scale became 16 px, measured beside it). Each task and its model are cached in
``bench/out/quick_preset/`` (gitignored), keyed by its settings, so an interrupted run resumes; the ``## Quick preset`` section of ``bench/RESULTS.md`` is rewritten at
the end (``--no-write`` skips that).

Usage::

    python -m bench.bench_quick_preset                         # quick vs quick25, 3 polyps, seeds 0 1, 32 samples
    python -m bench.bench_quick_preset --variants quick --seeds 0 1 2 --stems cju2zp89k9q1g0855k1x0f1xa
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from testkit.shared_data import POLYPS as DATA, REPO_ROOT as ROOT

OUT = ROOT / "bench" / "out" / "quick_preset"
TARGET_MINUTES, TARGET_EMPTY = 5.0, 0.05   # the targets: a quick model in <= 5 min with <= 5 % empty masks


def pick_polyps(pcts: dict[str, float], n_small: int = 2) -> list[str]:
    """The ``n_small`` stems with the smallest true-pixel % and then the median one (lower median), in that order."""
    order = sorted(pcts, key=lambda s: (pcts[s], s))
    picks = order[:n_small]
    median = order[(len(order) - 1) // 2]
    return picks + ([median] if median not in picks else [])


def variant_config(spec: str, seed: int):
    """``(name, TrainConfig)`` of a variant spec: a preset name, or ``NAME:key=value,...`` over the paper's."""
    from bench.bench_fidelity import parse_overrides
    from singanseg_core.training.config import PRESETS, TrainConfig

    if ":" not in spec:
        if spec not in PRESETS:
            raise ValueError(f"unknown preset {spec!r}: use {', '.join(PRESETS)} or NAME:key=value,...")
        return spec, TrainConfig.from_preset(spec, seed=seed)
    name, _, body = spec.partition(":")
    return name, TrainConfig.from_preset("paper", **{**parse_overrides(body.split(",")), "seed": seed})


def run_one(stem: str, spec: str, seed: int, n: int, threads: int, data: Path, out: Path, redraw: int = 4) -> dict:
    """Train one model (kept in ``out/models``) and count its empty masks at start scales 0 and 1, and at start
    scale 0 with ``redraw_empty = redraw`` (cached in ``out``)."""
    import torch

    from bench.bench_fidelity import digest
    from singanseg_core.analysis.stats import true_pixel_pct
    from singanseg_core.files.atomic import atomic_write_json
    from singanseg_core.files.pairs import find_pairs
    from singanseg_core.model.singanseg import SinGANSeg
    from singanseg_core.training import train

    name, cfg = variant_config(spec, seed)
    key = f"{name}-{stem}-seed{seed}-n{n}-t{threads}-{digest(cfg.to_dict())}"
    done, model_dir = out / f"{key}.json", out / "models" / key
    row = json.loads(done.read_text()) if done.is_file() else None
    if row is not None and f"empty_s0_redraw{redraw}" in row:
        return row
    torch.set_num_threads(threads)
    if row is not None and (model_dir / "config.json").is_file():
        model = SinGANSeg.from_pretrained(model_dir)
    else:  # the timing includes writing the checkpoint
        image, mask = next((i, m) for s, i, m in find_pairs(data) if s == stem)
        t0 = time.perf_counter()
        model = train(image, mask, model_dir, cfg, device="cpu", name=stem, overwrite=True)
        train_s = time.perf_counter() - t0
        row = {"variant": name, "spec": spec, "stem": stem, "seed": seed, "scales": model.num_scales,
               "sizes": [list(s) for s in model.scale_sizes], "train_s": train_s, "n": n, "threads": threads,
               "real_pct": true_pixel_pct(mask), "config": cfg.to_dict()}
        for start in (0, 1):
            pcts = model.sample(n, gen_start_scale=start, seed=0).true_pixel_pct
            row[f"empty_s{start}"] = int((np.asarray(pcts) == 0).sum())
            row[f"mean_pct_s{start}"] = float(np.mean(pcts))
    t0 = time.perf_counter()
    redrawn = model.sample(n, gen_start_scale=0, seed=0, redraw_empty=redraw)
    row[f"empty_s0_redraw{redraw}"] = int((redrawn.true_pixel_pct == 0).sum())
    row[f"draws_s0_redraw{redraw}"] = int(n + redrawn.redraws.sum())
    row[f"sample_s_redraw{redraw}"] = time.perf_counter() - t0
    atomic_write_json(done, row)
    return row


def markdown(rows: list[dict], command: str, redraw: int = 4) -> str:
    """The ``## Quick preset`` section: one row per model, then one verdict line per variant."""
    lines = ["## Quick preset", "", f"`{command}` — {os.cpu_count()} CPUs, load average "
             f"{os.getloadavg()[0]:.1f} at the end; one model at a time, {rows[0]['threads'] if rows else '?'} torch "
             f"threads each; {rows[0]['n'] if rows else '?'} samples per model at start scales 0 and 1 (seed 0), and "
             f"at start scale 0 with the sampling option `redraw_empty={redraw}` (draws = samples + redraws).",
             "", "| variant | polyp | object % | model seed | scales | training s | empty masks, start 0 | "
             "empty masks, start 1 | mean true-pixel %, start 0 | empty, start 0, redraw | draws, redraw |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | `{r['stem'][:10]}…` | {r['real_pct']:.1f} | {r['seed']} | {r['scales']} | "
                     f"{r['train_s']:.0f} | {r['empty_s0']}/{r['n']} | {r['empty_s1']}/{r['n']} | "
                     f"{r['mean_pct_s0']:.1f} | {r[f'empty_s0_redraw{redraw}']}/{r['n']} | "
                     f"{r[f'draws_s0_redraw{redraw}']} |")
    lines += ["", "Per variant (targets: ≤ 5 min per model, ≤ 5 % empty masks at start scale 0):", ""]
    for name in dict.fromkeys(r["variant"] for r in rows):
        vs = [r for r in rows if r["variant"] == name]
        empty = sum(r["empty_s0"] for r in vs) / sum(r["n"] for r in vs)
        worst = max(r["empty_s0"] / r["n"] for r in vs)
        slowest = max(r["train_s"] for r in vs) / 60
        ok = slowest <= TARGET_MINUTES and empty <= TARGET_EMPTY
        lines.append(f"- **{name}** ({vs[0]['spec']}): {100 * empty:.1f} % empty masks at start 0 over "
                     f"{len(vs)} models (worst model {100 * worst:.0f} %), start 1: "
                     f"{100 * sum(r['empty_s1'] for r in vs) / sum(r['n'] for r in vs):.1f} %; slowest model "
                     f"{slowest:.1f} min — targets {'met' if ok else 'not met'}; with `redraw_empty={redraw}`: "
                     f"{100 * sum(r[f'empty_s0_redraw{redraw}'] for r in vs) / sum(r['n'] for r in vs):.1f} % "
                     f"empty at start 0 for {sum(r[f'draws_s0_redraw{redraw}'] for r in vs) / sum(r['n'] for r in vs):.2f}"
                     f" draws per sample.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["quick", "quick25:max_size=64,min_size=25,niter=200"])
    ap.add_argument("--stems", nargs="+", help="polyps (default: the two smallest objects and the median one)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="model seeds")
    ap.add_argument("--n", type=int, default=32, help="samples per model and start scale")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2: the whole 2-core machine)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--redraw", type=int, default=4, help="redraw_empty for the redraw column (default 4)")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args(argv)
    from singanseg_core.analysis.stats import true_pixel_pct
    from singanseg_core.files.pairs import find_pairs

    data = Path(args.data)
    for spec in args.variants:
        try:
            variant_config(spec, 0)
        except Exception as err:  # a bad spec is refused before anything trains
            ap.error(f"variant {spec!r}: {err}")
    stems = args.stems or pick_polyps({s: true_pixel_pct(m) for s, _, m in find_pairs(data)})
    rows = []
    for spec in args.variants:
        for stem in stems:
            for seed in args.seeds:
                row = run_one(stem, spec, seed, args.n, args.threads, data, Path(args.out), args.redraw)
                print(f"{row['variant']} {stem} seed {seed}: {row['scales']} scales, {row['train_s']:.0f} s, "
                      f"empty {row['empty_s0']}/{row['n']} (start 0), {row['empty_s1']}/{row['n']} (start 1)",
                      flush=True)
                rows.append(row)
    command = "python -m bench.bench_quick_preset" + "".join(f" {shlex.quote(a)}" for a in argv if a != "--no-write")
    md = markdown(rows, command, args.redraw)
    print(md)
    if not args.no_write:
        from bench._results import write_section

        write_section(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
