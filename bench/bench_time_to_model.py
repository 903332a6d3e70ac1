"""Time to a model: how long from "train" to a saved checkpoint, per preset or option, and what the model is worth.

For every variant x finest size (default 64 and 128 px) x polyp (default: the two smallest objects and the median
one of ``../shared/data/polyps``, as ``bench_quick_preset``) x model seed, one model is trained here (``--threads``
torch threads, ``--device``), and the row holds:

* the estimate before training (``training.time_estimate.calibrate``) and the wall time to the saved checkpoint;
* seconds per iteration by scale (the training record) and the live ETA's worst error from the end of the first
  scale on (the ETA at each finished scale against the time that was really left);
* empty masks among ``--n`` samples at start scale 0, and the Wasserstein-1 distance (percentage points) of their
  true-pixel % to the real mask's.

``--original`` adds the authors' code (``bench._original``, always on the CPU) side by side where it runs the same
setting: the ``paper`` variant (its defaults) at the same finest size; its time to a model only.

Variants: preset names (``live``, ``quick``, ``paper``, ``tiny``) or ``NAME:key=value[,key=value]`` = the paper's
settings with those ``TrainConfig`` fields changed (e.g. ``lazy4:gp_every=4``). The finest size is set per row.
``--smoke`` trains 2 iterations per scale on one polyp at 64 px with 4 samples (checks that everything runs; the
numbers mean nothing) and writes nothing into ``bench/RESULTS.md``.

Every finished row is kept in ``bench/out/time_to_model/rows.json`` (gitignored; keyed by variant, size, polyp,
seed, threads and device; a rerun of the same row replaces it), and the section is written from all kept rows with
the commands that made them, so settings measured by separate invocations (e.g. ``quick`` only at 64 px) share one
table. ``--fresh`` forgets the kept rows first.

Usage::

    python -m bench.bench_time_to_model --smoke
    python -m bench.bench_time_to_model --variants live quick --sizes 64 128 --seeds 0 1 --threads 2
    python -m bench.bench_time_to_model --device cuda --variants live paper --original
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.bench_quick_preset import pick_polyps, variant_config
from testkit.shared_data import POLYPS as DATA

SECTION = "## Time to a model"
CACHE = Path(__file__).resolve().parent / "out" / "time_to_model" / "rows.json"


def row_key(r: dict) -> tuple:
    return (r["variant"], r["size"], r["stem"], r.get("seed", 0), r.get("threads"), r.get("device", "cpu"))


def keep_rows(rows: list[dict], cache: Path = CACHE) -> list[dict]:
    """``rows`` merged into the kept rows of earlier invocations (same key: the new row wins); all of them."""
    import json

    from singanseg_core.files.atomic import atomic_write_json

    kept = json.loads(cache.read_text()) if cache.is_file() else []
    merged = {row_key(r): r for r in kept}
    merged.update({row_key(r): r for r in rows})
    out = list(merged.values())
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(cache, out)
    return out
TARGET_S, TARGET_EMPTY, TARGET_ETA = 60.0, 0.05, 0.30   # the live preset's targets at 128 px; the ETA's error


def eta_errors(events: list[tuple[float, float | None]], t_end: float) -> list[float]:
    """Relative errors of the ETAs given at the end of each scale (``(time, eta_s)``; the last scale's is 0 and
    left out) against the time that was really left until ``t_end``."""
    errs = []
    for t, eta in events:
        left = t_end - t
        if eta is not None and left > 0:
            errs.append(eta / left - 1.0)
    return errs


def run_one(spec: str, size: int, stem: str, seed: int, n: int, threads: int, device: str, work: Path,
            niter: int | None = None) -> dict:
    """Train one model and measure it (see the module docstring); ``niter`` replaces the variant's."""
    import torch

    from singanseg_core.analysis.stats import distribution_distance, true_pixel_pct
    from singanseg_core.files.pairs import load_pair
    from singanseg_core.training import train
    from singanseg_core.training.time_estimate import calibrate, estimate_seconds

    torch.set_num_threads(threads)
    name, cfg = variant_config(spec, seed)
    cfg = replace(cfg, max_size=size, niter=niter or cfg.niter).validated()
    image, mask = DATA / "images" / f"{stem}.jpg", DATA / "masks" / f"{stem}.png"
    pair = load_pair(image, mask)
    t0 = time.perf_counter()
    rate = calibrate(cfg, pair.size, device)
    calibration_s = time.perf_counter() - t0
    estimate = estimate_seconds(cfg, pair.size, rate)
    events: list[tuple[float, float | None]] = []

    def progress(ev) -> None:
        if ev.scale_done and ev.scale < ev.num_scales - 1:
            events.append((time.perf_counter(), ev.eta_s))

    t0 = time.perf_counter()
    model = train(pair, out_dir=work / f"{name}-{size}-{stem}-{seed}", config=cfg, device=device, progress=progress,
                  overwrite=True, rate_prior=rate)
    t_end = time.perf_counter()
    log = model.training_log() or {"scales": []}
    pcts = np.asarray(model.sample(n, gen_start_scale=0, seed=0).true_pixel_pct, dtype=float)
    real = true_pixel_pct(mask)
    errs = eta_errors(events, t_end)
    return {"variant": name, "spec": spec, "size": size, "stem": stem, "seed": seed, "threads": threads,
            "device": device, "scales": model.num_scales, "estimate_s": estimate, "calibration_s": calibration_s,
            "train_s": t_end - t0, "s_per_it": [s.get("s_per_it") for s in log["scales"]],
            "scale_s": [s.get("seconds") for s in log["scales"]], "rate": [rate.overhead_s, rate.s_per_work],
            "eta_events": [(t - t0, e) for t, e in events],
            "eta_worst": max((abs(e) for e in errs), default=None), "n": n,
            "empty_s0": int((pcts == 0).sum()), "real_pct": real,
            "w1": distribution_distance([real], pcts.tolist())["wasserstein"]}


def run_original(size: int, stem: str, threads: int) -> dict:
    """The authors' code at its defaults with this finest size (its time to a model), on the CPU."""
    from PIL import Image

    from bench._original import ensure_original
    from bench.bench_engine import ORIGINAL, run

    ensure_original()
    with tempfile.TemporaryDirectory() as tmp:
        img = np.asarray(Image.open(DATA / "images" / f"{stem}.jpg").convert("RGB"))
        msk = np.asarray(Image.open(DATA / "masks" / f"{stem}.png").convert("L"))
        rgba = Path(tmp) / f"{stem}.png"
        Image.fromarray(np.dstack([img, msk])).save(rgba)
        from singanseg_core.training.config import TrainConfig

        out = run(ORIGINAL, rgba, size, TrainConfig().niter, 1, threads)
    return {"variant": "paper (original code)", "size": size, "stem": stem, "train_s": out["train_s"],
            "scales": out["scales"]}


def markdown(rows: list[dict], originals: list[dict], command: str) -> str:
    """The ``## Time to a model`` section: one row per model, the original beside, one verdict per variant."""
    def f(x, fmt):  # noqa: ANN001
        return "—" if x is None else format(x, fmt)

    commands = list(dict.fromkeys([r["command"] for r in rows + originals if r.get("command")] + [command]))
    lines = [SECTION, "", "Made by " + ", ".join(f"`{c}`" for c in commands) + f" — {os.cpu_count()} CPUs, load "
             f"average {os.getloadavg()[0]:.1f} at the end of the last. Training s = from the call to the saved "
             "checkpoint (the estimate's calibration is extra: *calib. s*).",
             "", "| variant | px | polyp | seed | threads | scales | calib. s | estimate s | training s | ETA worst error | "
             "s/it by scale | empty, start 0 | W1 true-pixel % |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        rates = " ".join(f(x, ".3f") for x in r["s_per_it"])
        lines.append(f"| {r['variant']} | {r['size']} | `{r['stem'][:10]}…` | {r['seed']} | {r.get('threads', '—')} | "
                     f"{r['scales']} | {f(r.get('calibration_s'), '.1f')} | {r['estimate_s']:.0f} | {r['train_s']:.0f} | {f(r['eta_worst'] and 100 * r['eta_worst'], '.0f')} % "
                     f"| {rates} | {r['empty_s0']}/{r['n']} | {r['w1']:.2f} |")
    for o in originals:
        lines.append(f"| {o['variant']} | {o['size']} | `{o['stem'][:10]}…` | 0 | {o.get('threads', '—')} | "
                     f"{o['scales']} | — | — | "
                     f"{o['train_s']:.0f} | — | — | — | — |")
    specs = dict.fromkeys(f"`{r['variant']}` = `{r['spec']}`" for r in rows if r.get("spec") and ":" in r["spec"])
    if specs:
        lines += ["", "Variants (the paper's settings with these fields changed): " + "; ".join(specs) + "."]
    notes = dict.fromkeys(f"{r['variant']} {r['size']} px `{r['stem'][:10]}…`: {r['note']}" for r in rows
                          if r.get("note"))
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    lines += ["", f"Targets at 128 px: ≤ {TARGET_S:.0f} s to a model, ≤ {100 * TARGET_EMPTY:.0f} % empty masks at "
              f"start 0; the ETA within ±{100 * TARGET_ETA:.0f} % from the first finished scale on.", ""]
    for (name, size) in dict.fromkeys((r["variant"], r["size"]) for r in rows):
        vs = [r for r in rows if r["variant"] == name and r["size"] == size]
        empty = sum(r["empty_s0"] for r in vs) / sum(r["n"] for r in vs)
        slowest = max(r["train_s"] for r in vs)
        eta = max((r["eta_worst"] for r in vs if r["eta_worst"] is not None), default=None)
        lines.append(f"- **{name}** at {size} px: slowest model {slowest:.0f} s, {100 * empty:.1f} % empty masks at "
                     f"start 0, worst ETA error {f(eta and 100 * eta, '.0f')} %"
                     + (f" — {'targets met' if slowest <= TARGET_S and empty <= TARGET_EMPTY else 'targets not met'}"
                        if size == 128 else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["live", "quick"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="finest sizes (px)")
    ap.add_argument("--stems", nargs="+", help="polyps (default: the two smallest objects and the median one)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="model seeds")
    ap.add_argument("--n", type=int, default=32, help="samples per model at start scale 0")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (ours; the original always runs on the CPU)")
    ap.add_argument("--original", action="store_true", help="the authors' code beside the paper variant")
    ap.add_argument("--smoke", action="store_true", help="2 iterations per scale, one polyp, 64 px, 4 samples")
    ap.add_argument("--no-write", action="store_true", help="do not rewrite the section of bench/RESULTS.md")
    ap.add_argument("--fresh", action="store_true", help="forget the rows kept by earlier invocations")
    ap.add_argument("--report-only", action="store_true", help="train nothing: write the section from the kept rows")
    args = ap.parse_args(argv)
    from singanseg_core.analysis.stats import true_pixel_pct
    from singanseg_core.files.pairs import find_pairs

    if not (DATA / "images").is_dir():
        raise SystemExit(f"the shared polyps are absent ({DATA})")
    stems = args.stems or pick_polyps({s: true_pixel_pct(m) for s, _, m in find_pairs(DATA)})
    variants, sizes, n, seeds = args.variants, args.sizes, args.n, args.seeds
    niter = None
    if args.smoke:
        stems, sizes, n, seeds, niter = stems[:1], [64], 4, seeds[:1], 2
    rows, originals = [], []
    command = "python -m bench.bench_time_to_model " + " ".join(argv)
    if args.fresh and CACHE.is_file() and not args.smoke:
        CACHE.unlink()
    if args.report_only:
        variants = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in variants:
            for size in sizes:
                for stem in stems:
                    for seed in seeds:
                        row = run_one(spec, size, stem, seed, n, args.threads, args.device, Path(tmp), niter)
                        print(f"{row['variant']} {size} px {stem[:10]} seed {seed}: estimate {row['estimate_s']:.1f} s, "
                              f"trained in {row['train_s']:.1f} s, {row['empty_s0']}/{n} empty, W1 {row['w1']:.2f}",
                              flush=True)
                        row["command"] = command
                        rows.append(row)
                        if not args.smoke:
                            keep_rows([row])
        if args.original and not args.smoke and any(r["variant"] == "paper" for r in rows):
            for size in sizes:
                for stem in stems:
                    originals.append({**run_original(size, stem, args.threads), "command": command,
                                      "threads": args.threads, "seed": 0})
                    keep_rows(originals[-1:])
    if not args.smoke:
        kept = keep_rows([])
        rows = [r for r in kept if "estimate_s" in r]
        originals = [r for r in kept if "estimate_s" not in r]
    md = markdown(rows, originals, command)
    print(md)
    if not (args.no_write or args.smoke):
        from bench._results import write_section

        write_section(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
