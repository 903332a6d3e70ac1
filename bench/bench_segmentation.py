"""Benchmark of the segmentation side: what the study presets cost on this machine.

1. Seconds per training epoch of UNet++ (se_resnext50_32x4d, 128 x 128, batch 8): timed forward +
   backward + Adam steps on random batches, extrapolated to the paper's training sets
   (REAL fold training set of 667 images; FAKE-5 of 3,335; small data R=50 / S=500).
2. Wall time and peak memory (max RSS of the child process) of the ``demo`` preset studies, run
   through the CLI exactly as a user would (``singanseg study small-data --preset demo``).

Run: ``.venv/bin/python -m bench.bench_segmentation [--skip-study] [--rvs] [--threads N]``.
Prints a table and rewrites the ``## Segmentation and studies`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._results import RESULTS, write_section

from testkit.shared_data import POLYPS as DATA, REPO_ROOT as ROOT

SECTION = "## Segmentation and studies"
# VmHWM is the high-water mark of the child's own address space (ru_maxrss would carry over this
# process's peak through fork + exec).
CHILD = ("import sys; from singanseg_core.cli import main; rc = main(sys.argv[1:]); "
         "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]; "
         "print('PEAK_RSS_KIB', hwm, file=sys.stderr); sys.exit(rc)")


def epoch_seconds(encoder: str, size: int, batch: int, steps: int, threads: int) -> dict:
    import torch

    from singanseg_core.segmentation.model import build_unetpp

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build_unetpp(encoder, None).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    import segmentation_models_pytorch as smp

    loss_fn = smp.losses.DiceLoss(mode="binary", from_logits=True)
    x = torch.randn(batch, 3, size, size)
    y = (torch.rand(batch, 1, size, size) > 0.7).float()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    step()  # warm-up (allocations, kernel selection)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    train_batch = (time.perf_counter() - t0) / steps
    net.eval()
    with torch.no_grad():
        net(x)
        t0 = time.perf_counter()
        for _ in range(steps):
            net(x)
        val_batch = (time.perf_counter() - t0) / steps
    return {"encoder": encoder, "size": size, "batch": batch, "threads": threads,
            "params_m": sum(p.numel() for p in net.parameters()) / 1e6,
            "train_s_per_batch": train_batch, "val_s_per_batch": val_batch}


def run_study_cli(kind: str, out: Path, threads: int) -> dict:
    cmd = [sys.executable, "-c", CHILD, "study", kind, "--preset", "demo", "--data", str(DATA),
           "--out", str(out), "--device", "cpu", "--threads", str(threads), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"study failed ({' '.join(cmd)}):\n{proc.stdout}\n{proc.stderr}")
    peak_kib = int(re.search(r"PEAK_RSS_KIB (\d+)", proc.stderr).group(1))
    from singanseg_core.studies import load_study

    res = load_study(out)
    return {"kind": kind, "wall_s": wall, "peak_rss_mib": peak_kib / 1024, "runs": len(res.table),
            "summary": res.summary, "table": res.table}




def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the study runs (default 1)")
    ap.add_argument("--steps", type=int, default=2, help="timed training steps per encoder")
    ap.add_argument("--threads-also", type=int, nargs="*", default=[], help="extra thread counts for se_resnext50")
    ap.add_argument("--skip-study", action="store_true")
    ap.add_argument("--rvs", action="store_true", help="also run the real-vs-synthetic demo study")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args(argv)

    load = os.getloadavg()[0]
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, no GPU; "
             f"load average {load:.1f} when the benchmark started (other jobs share these cores, so times "
             f"are upper bounds). `python -m bench.bench_segmentation`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             "", "### UNet++ training speed (CPU, random init, dice loss, Adam)", "",
             "| encoder | px | batch | threads | params (M) | train s/batch | val s/batch | s/epoch 667 imgs (REAL fold) | s/epoch 3,335 (FAKE-5) | s/epoch 500 (S=500) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = []
    # One thread: on a small shared CPU, two threads were 2.6x slower than one for se_resnext50 (70.5 vs
    # 26.9 s/batch at load ~10); pass --threads-also 2 to measure that again.
    configs = [("se_resnext50_32x4d", 1), ("mobilenet_v2", 1)] + [("se_resnext50_32x4d", t) for t in args.threads_also]
    for enc, threads in configs:
        r = epoch_seconds(enc, 128, 8, args.steps, threads)
        rows.append(r)
        per = lambda n: (n / 8) * r["train_s_per_batch"] + (333 / 8) * r["val_s_per_batch"]  # + validation of a fold
        lines.append(f"| {enc} | 128 | 8 | {threads} | {r['params_m']:.1f} | {r['train_s_per_batch']:.2f} | "
                     f"{r['val_s_per_batch']:.2f} | {per(667):.0f} | {per(3335):.0f} | {per(500):.0f} |")
        print(lines[-1], flush=True)
    paper = rows[0]  # se_resnext50_32x4d
    per_real = (667 / 8) * paper["train_s_per_batch"] + (333 / 8) * paper["val_s_per_batch"]
    lines += ["", "Epoch times include validating one fold of 333 images. The `paper` preset of Table 1 trains "
              f"3 folds x (REAL + 15 FAKE runs) x 300 epochs: on this CPU one REAL run alone would take about "
              f"{per_real * 300 / 3600:.0f} h, so the `paper` presets are meant for a GPU.", "",
              "Threads: one torch thread per process is used on purpose. With the other jobs on this 2-core machine, "
              "2 threads were 2.6x slower than 1 for se_resnext50_32x4d (70.5 vs 26.9 s/batch at load ~10, "
              "`--threads-also 2` measures it again); the studies' CLI has `--threads`."]

    if not args.skip_study:
        lines += ["", "### `demo` preset studies (through the CLI, `--threads "
                  f"{args.threads}`)", "", "| study | runs | wall time | peak RSS (VmHWM) |", "|---|---|---|---|"]
        kinds = ["small-data"] + (["real-vs-synthetic"] if args.rvs else [])
        summaries = []
        with tempfile.TemporaryDirectory() as tmp:
            for kind in kinds:
                r = run_study_cli(kind, Path(tmp) / kind, args.threads)
                lines.append(f"| {kind} | {r['runs']} | {r['wall_s']:.0f} s | {r['peak_rss_mib']:.0f} MiB |")
                print(lines[-1], flush=True)
                summaries.append((kind, r["summary"]))
        for kind, summary in summaries:
            keep = [c for c in summary.columns if not c.startswith(("dice_loss", "accuracy", "recall", "precision"))]
            lines += ["", f"Demo {kind} results (tiny SinGANs, UNet++ mobilenet_v2 4 epochs at 64 px: shows the "
                      "pipeline works, not the paper's numbers):",
                      "", "```", summary[keep].to_string(index=False, float_format=lambda v: f"{v:.3f}"), "```"]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(f"{SECTION}\n\n{text.strip()}")
        print(f"wrote section '{SECTION}' of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
