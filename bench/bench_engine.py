"""Engine benchmark, side by side with the original SinGAN-Seg code (PyPI ``singan-seg-polyp==1.0.7``).

Measures, for the same 4-channel input (a real polyp, RGBA with the mask as alpha), max_size, iterations
per scale and seed, on the CPU:

* seconds per training iteration (all scales, total time / (scales x iterations)) and peak RSS;
* samples per second at gen_start_scale 0, with PNG writing and in memory.

Each measurement runs in a fresh subprocess so peak memory (ru_maxrss) belongs to one implementation; the
two implementations alternate within one run of this script. The reference package is loaded by ``bench._original`` (installed
without its stale dependency list if missing); its sampling also needs ``matplotlib scikit-learn natsort pyyaml``.

Usage: ``python -m bench.bench_engine [--sizes 64 128] [--iters 20] [--samples 100] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._flops import matmul_peak_gflops
from bench._results import write_section

from bench._children import child_env
from bench._original import ensure_original
from testkit.shared_data import POLYPS as POLYP, REPO_ROOT as ROOT

STEM = "cju2zp89k9q1g0855k1x0f1xa"


def _rgba(tmp: Path) -> Path:
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(POLYP / "images" / f"{STEM}.jpg").convert("RGB"))
    msk = np.asarray(Image.open(POLYP / "masks" / f"{STEM}.png").convert("L"))
    path = tmp / f"{STEM}.png"
    Image.fromarray(np.dstack([img, msk])).save(path)
    return path


ORIGINAL = r'''
import json, os, resource, sys, time, types
import numpy as np, torch
torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
import matplotlib; matplotlib.use("Agg")
from singan_seg_polyp.SinGAN import functions, training, manipulate
from singan_seg_polyp.config import get_arguments
rgba, max_size, niter, n_samples, workdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
os.chdir(workdir)
opt = get_arguments().parse_args(["--not_cuda", "--nc_im", "4", "--nc_z", "4", "--max_size", str(max_size),
                                  "--niter", str(niter), "--manualSeed", "0"])
opt.input_dir, opt.input_name, opt.mode = os.path.dirname(rgba), os.path.basename(rgba), "train"
opt.device = torch.device("cpu"); opt.niter_init, opt.noise_amp_init = opt.niter, opt.noise_amp
opt.nfc_init, opt.min_nfc_init, opt.scale_factor_init = opt.nfc, opt.min_nfc, opt.scale_factor
opt.out_ = "TrainedModels/x"; torch.manual_seed(0); np.random.seed(0)
real = functions.read_image(opt); functions.adjust_scales2image(real, opt)
Gs, Zs, reals, amps = [], [], [], []
c = time.process_time(); t = time.perf_counter(); training.train(opt, Gs, Zs, reals, amps); t_train = time.perf_counter() - t; c_train = time.process_time() - c
rss_train = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
opt.dir2save = os.path.join(workdir, "samples"); os.makedirs(opt.dir2save, exist_ok=True)
opt.checkpoint_id, opt.mask_post_processing, opt.gen_start_scale = "x", True, 0
t = time.perf_counter()
manipulate.SinGAN_generate_clean(Gs, Zs, reals, amps, opt, gen_start_scale=0, num_samples=n_samples)
t_png = time.perf_counter() - t
import matplotlib.pyplot as plt
plt.imsave = lambda *a, **k: None
t = time.perf_counter()
manipulate.SinGAN_generate_clean(Gs, Zs, reals, amps, opt, gen_start_scale=0, num_samples=n_samples)
t_mem = time.perf_counter() - t
print(json.dumps({"scales": len(Gs), "train_s": t_train, "cpu_train_s": c_train, "png_s": t_png, "mem_s": t_mem,
                  "rss_mb": rss_train / 1024, "sizes": [list(r.shape[2:]) for r in reals]}))
'''

OURS = r'''
import json, os, resource, sys, time
import torch
torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
from singanseg_core.training.config import TrainConfig
from singanseg_core.training import train
from singanseg_core.sampling.writer import write_samples
rgba, max_size, niter, n_samples, workdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
cfg = TrainConfig(max_size=max_size, niter=niter, seed=0)
c = time.process_time(); t = time.perf_counter(); model = train(rgba, None, os.path.join(workdir, "ck"), cfg, device=os.environ["BENCH_DEVICE"]); t_train = time.perf_counter() - t; c_train = time.process_time() - c
rss_train = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter(); write_samples(model, os.path.join(workdir, "samples"), n_samples, 0, seed=0)
t_png = time.perf_counter() - t
t = time.perf_counter(); model.sample(n_samples, 0, seed=0); t_mem = time.perf_counter() - t
print(json.dumps({"scales": model.num_scales, "train_s": t_train, "cpu_train_s": c_train, "png_s": t_png, "mem_s": t_mem,
                  "rss_mb": rss_train / 1024, "sizes": model.config.sizes}))
'''


# Floating-point work (convolutions + matmuls, torch's FLOP formulas) of one training iteration, averaged
# over the scales (difference of a 4- and a 2-iteration run, so set-up work cancels), and of one sample.
ORIGINAL_FLOPS = ORIGINAL.split("Gs, Zs, reals, amps = [], [], [], []")[0].replace(
    '"--niter", str(niter)', '"--niter", "2"') + r'''
from bench._flops import CountFlops
counts = {}
for k in (2, 4):
    opt.niter = opt.niter_init = k; opt.out_ = f"TrainedModels/x{k}"
    torch.manual_seed(0); np.random.seed(0)
    Gs, Zs, reals, amps = [], [], [], []
    with CountFlops() as fc:
        training.train(opt, Gs, Zs, reals, amps)
    counts[k] = fc.total
opt.dir2save = os.path.join(workdir, "samples"); os.makedirs(opt.dir2save, exist_ok=True)
opt.checkpoint_id, opt.mask_post_processing, opt.gen_start_scale = "x", True, 0
import matplotlib.pyplot as plt
plt.imsave = lambda *a, **k: None
with CountFlops() as fs:
    manipulate.SinGAN_generate_clean(Gs, Zs, reals, amps, opt, gen_start_scale=0, num_samples=8)
print(json.dumps({"it_flops": (counts[4] - counts[2]) / 2 / len(Gs), "sample_flops": fs.total / 8}))
'''

OURS_FLOPS = r'''
import json, os, sys
import torch
torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
from bench._flops import CountFlops
from singanseg_core.training.config import TrainConfig
from singanseg_core.training.trainer import train
rgba, max_size, niter, n_samples, workdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
counts = {}
for k in (2, 4):
    with CountFlops() as fc:
        model = train(rgba, None, os.path.join(workdir, f"ck{k}"), TrainConfig(max_size=max_size, niter=k, seed=0), device="cpu")
    counts[k] = fc.total
with CountFlops() as fs:
    model.sample(8, 0, seed=0)
print(json.dumps({"it_flops": (counts[4] - counts[2]) / 2 / model.num_scales, "sample_flops": fs.total / 8}))
'''


def run(code: str, rgba: Path, max_size: int, iters: int, samples: int, threads: int, device: str = "cpu") -> dict:
    with tempfile.TemporaryDirectory() as work:
        env = child_env(BENCH_THREADS=str(threads), BENCH_DEVICE=device, PYTHONWARNINGS="ignore")
        out = subprocess.run([sys.executable, "-c", code, str(rgba), str(max_size), str(iters), str(samples), work],
                             capture_output=True, text=True, env=env, cwd=str(ROOT))
        if out.returncode != 0:
            raise SystemExit(f"benchmark subprocess failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="device for ours (cpu or cuda); the original always runs as "
                    "the issue specifies, on the CPU with --not_cuda. GFLOP counts are taken on the CPU.")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rgba = _rgba(Path(tmp))
        for size in args.sizes:
            ensure_original()
            orig = run(ORIGINAL, rgba, size, args.iters, args.samples, args.threads)
            ours = run(OURS, rgba, size, args.iters, args.samples, args.threads, args.device)
            orig.update(run(ORIGINAL_FLOPS, rgba, size, args.iters, args.samples, args.threads))
            ours.update(run(OURS_FLOPS, rgba, size, args.iters, args.samples, args.threads))
            assert orig["sizes"] == ours["sizes"], (orig["sizes"], ours["sizes"])
            its = orig["scales"] * args.iters
            rows.append({
                "max_size": size, "scales": ours["scales"],
                "orig_s_it": orig["train_s"] / its, "ours_s_it": ours["train_s"] / its,
                "orig_cpu_it": orig["cpu_train_s"] / its, "ours_cpu_it": ours["cpu_train_s"] / its,
                "orig_rss": orig["rss_mb"], "ours_rss": ours["rss_mb"],
                "orig_png": args.samples / orig["png_s"], "ours_png": args.samples / ours["png_s"],
                "orig_mem": args.samples / orig["mem_s"], "ours_mem": args.samples / ours["mem_s"],
                "orig_it_gf": orig["it_flops"] / 1e9, "ours_it_gf": ours["it_flops"] / 1e9,
                "orig_sample_gf": orig["sample_flops"] / 1e9, "ours_sample_gf": ours["sample_flops"] / 1e9,
            })
    header = ("| max_size | scales | s/iteration original | s/iteration ours | speed-up | CPU s/iteration orig / ours "
              "(x) | peak RSS MB orig / ours | samples/s with PNG orig / ours (x) | samples/s in memory orig / ours (x) |\n"
              "|---|---|---|---|---|---|---|---|---|")
    lines = [header]
    for r in rows:
        lines.append(f"| {r['max_size']} | {r['scales']} | {r['orig_s_it']:.4f} | {r['ours_s_it']:.4f} | "
                     f"**{r['orig_s_it'] / r['ours_s_it']:.2f}x** | {r['orig_cpu_it']:.4f} / {r['ours_cpu_it']:.4f} "
                     f"({r['orig_cpu_it'] / r['ours_cpu_it']:.2f}x) | {r['orig_rss']:.0f} / {r['ours_rss']:.0f} | "
                     f"{r['orig_png']:.1f} / {r['ours_png']:.1f} (**{r['ours_png'] / r['orig_png']:.1f}x**) | "
                     f"{r['orig_mem']:.1f} / {r['ours_mem']:.1f} (**{r['ours_mem'] / r['orig_mem']:.1f}x**) |")
    peak = matmul_peak_gflops(args.threads)
    lines += ["", f"Work and the machine's limit (fp32 peak = best 2048x2048 matmul with {args.threads} threads: "
              f"**{peak:.0f} GFLOP/s**; GFLOP counted with torch's FLOP formulas for convolutions and matmuls, "
              "double backward included; `bench/_flops.py`):", "",
              "| max_size | GFLOP/iteration orig / ours | GFLOP/s in training orig / ours | GFLOP/s a 3x training "
              "speed-up needs | GFLOP/sample orig / ours | GFLOP/s orig (PNG) / ours (memory) | GFLOP/s 10x with PNG / "
              "20x in memory need |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        train_need = r["ours_it_gf"] / (r["orig_s_it"] / 3)
        lines.append(
            f"| {r['max_size']} | {r['orig_it_gf']:.2f} / {r['ours_it_gf']:.2f} | "
            f"{r['orig_it_gf'] / r['orig_s_it']:.0f} / {r['ours_it_gf'] / r['ours_s_it']:.0f} | "
            f"**{train_need:.0f}** ({train_need / peak:.1f}x peak) | {r['orig_sample_gf']:.2f} / {r['ours_sample_gf']:.2f} | "
            f"{r['orig_sample_gf'] * r['orig_png']:.0f} / {r['ours_sample_gf'] * r['ours_mem']:.0f} | "
            f"**{r['ours_sample_gf'] * r['orig_png'] * 10:.0f}** / **{r['ours_sample_gf'] * r['orig_mem'] * 20:.0f}** "
            f"({r['ours_sample_gf'] * r['orig_mem'] * 20 / peak:.1f}x peak) |")
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        import platform

        import torch
        section = (f"## Engine (train + sample) vs the original\n\n`python -m bench.bench_engine --sizes "
                   f"{' '.join(map(str, args.sizes))} --iters {args.iters} --samples {args.samples} --threads "
                   f"{args.threads}{' --device ' + args.device if args.device != 'cpu' else ''}` on "
                   f"{platform.machine()} CPU{' (ours on ' + args.device + ')' if args.device != 'cpu' else ''}, "
                   f"torch {torch.__version__}, {args.threads} threads; "
                   f"input: Kvasir-SEG `{STEM}` as RGBA (mask = alpha), seed 0, same scale schedule for both "
                   f"(asserted). Each implementation runs in its own subprocess (peak RSS = ru_maxrss after "
                   f"training, torch import included); samples at gen_start_scale 0 (ours in its default batches: 4 on a CPU, 64 on a GPU).\n\n"
                   f"{table}\n")
        write_section(section)




if __name__ == "__main__":
    main()
