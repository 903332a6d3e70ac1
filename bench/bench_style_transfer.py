"""Style transfer: ours vs the original (PyPI ``singan-seg-polyp==1.0.7``), side by side in one run.

    .venv/bin/python -m bench.bench_style_transfer [--quick]

Pretrained VGG19 weights cannot be downloaded here, so both implementations get the *same*
randomly initialised VGG19 features (``load_vgg19(random_features=True, seed=0)``: torchvision's
VGG init, Kaiming normal): the original's ``models.vgg19(pretrained=True)`` is monkeypatched to
build a vgg19 and load them, as torchvision does per call (only the weights file read is spared). Its unused
``matplotlib`` import is stubbed. ``bench._original`` loads it (and installs it outside the checkout if missing).

Measured (each setting alternates original / ours twice and keeps the median per-step time):

1. fidelity: ours (fp32, Adam) vs the original after the same steps from the same inputs;
2. seconds per step, one image, 128 and 256 px (ours fp32 and ours "auto" precision);
3. a batch of 8 pairs at 128 px: the original one pair after another, ours in one batch; per
   image time extrapolated to 1000 steps (measured run + remaining steps x median step);
4. time for ours with L-BFGS to reach the loss of the original's 1000 Adam steps (128 px).

Peak memory: the largest growth of anonymous resident memory (RssAnon, sampled every 5 ms) during 3
steps, each measured in a fresh process so that memory freed by earlier runs cannot hide it. Prints a table and rewrites the ``## Style transfer`` section of
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import threading
import time
import types
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from singanseg_core import errors
from singanseg_core.networks import vgg as vgg_net
from singanseg_core.style import config as st_config
from singanseg_core.style import transfer as st_transfer
from singanseg_core.style import vgg as st_vgg

from bench._original import ensure_original
from bench._results import RESULTS, write_section

SEED = 0
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = CLOCKS["wall"]


def now_s() -> float:
    """The bench's clock: wall time, or this process's CPU time (``--clock cpu``, robust to other jobs)."""
    return _clock()
_ARGS = ""
SECTION = "## Style transfer"


# --------------------------------------------------------------------------------------------
# The original, wired to the shared random VGG19
# --------------------------------------------------------------------------------------------


def import_original(vgg_features: torch.nn.Module):
    """Import ``singan_seg_polyp.style_transfer`` with ``vgg19(pretrained=True)`` giving ``vgg_features``.

    Like the original (and torchvision with ``pretrained=True``), every call builds a fresh vgg19 and
    loads the weights into it; only reading the 548 MB weights file from disk is spared.
    """
    import torchvision

    state = vgg_features.state_dict()

    def vgg19(pretrained=True, **_):
        model = torchvision.models.vgg19(weights=None)
        model.features.load_state_dict(state)
        return model

    for name in ("matplotlib", "matplotlib.pyplot"):  # imported by the original, never used
        sys.modules.setdefault(name, types.ModuleType(name))
    ensure_original()
    import singan_seg_polyp.style_transfer as orig
    orig.models = types.SimpleNamespace(vgg19=vgg19)
    return orig


class StepClock:
    """Replaces the original's ``trange``: yields steps and records a timestamp at each one."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, n, **_):
        clock = self

        class _Range:
            def __iter__(self):
                for i in range(n):
                    clock.times.append(now_s())
                    yield i
                clock.times.append(now_s())

            def set_description(self, *_a, **_k):
                pass

        return _Range()


def per_step(times: list[float]) -> float:
    """Median step time from consecutive timestamps (the first step is warm-up: dropped)."""
    diffs = np.diff(times)[1:]
    return float(np.median(diffs))


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------


def _rss() -> int:
    """Anonymous resident memory in bytes (RssAnon: excludes shared-library code paged in on first use)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise OSError("no RssAnon in /proc/self/status")


@contextmanager
def peak_rss(box: dict):
    base = _rss()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        yield
    finally:
        stop.set()
        th.join()
        peak[0] = max(peak[0], _rss())
        box["peak_mb"] = max(box.get("peak_mb", 0.0), (peak[0] - base) / 2**20)


def _memory_child(impl: str, size: int, n: int, threads: int, queue) -> None:
    """In a fresh process: peak RSS growth (MB) of 3 steps of ``impl`` on ``n`` pairs of ``size`` px."""
    torch.set_num_threads(threads)
    vgg = st_vgg.load_vgg19(random_features=True, seed=SEED, device="cpu")
    pairs = [make_pair(size, 20 + i) for i in range(n)]
    box: dict = {}
    if impl == "original":
        orig = import_original(vgg.features)
        paths = save_pairs(pairs, Path(tempfile.mkdtemp(prefix="bench_st_mem_")))
        with peak_rss(box):
            for cp, sp in paths:
                run_original(orig, cp, sp, 3)
    else:
        with peak_rss(box):
            run_ours(vgg, [p[0] for p in pairs], [p[1] for p in pairs], 3, impl)
    queue.put(box["peak_mb"])


def measure_memory(impl: str, size: int, n: int, threads: int) -> float:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_child, args=(impl, size, n, threads, queue))
    proc.start()
    import queue as queue_mod

    while True:
        try:
            value = queue.get(timeout=1.0)
            break
        except queue_mod.Empty:
            if not proc.is_alive():
                return float("nan")  # the child failed; its traceback is on stderr
    proc.join()
    return float(value)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def make_pair(size: int, seed: int) -> tuple[Image.Image, Image.Image]:
    """A smooth "generated" content image and a textured "real" style image, ``size`` px square."""
    g = torch.Generator().manual_seed(seed)
    content = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 6, generator=g), size=(size, size), mode="bicubic")
    style = 0.5 + 0.35 * torch.sin(torch.linspace(0, 25, size)[None, None, :] * torch.rand(3, 1, 1, generator=g) * 3)
    style = style + 0.15 * torch.rand(3, size, size, generator=g)
    return st_transfer.tensor_to_pil(content[0].clamp(0, 1)), st_transfer.tensor_to_pil(style.clamp(0, 1))


def save_pairs(pairs, folder: Path) -> list[tuple[str, str]]:
    paths = []
    for i, (c, s) in enumerate(pairs):
        cp, sp = folder / f"content_{i}.png", folder / f"style_{i}.png"
        c.save(cp)
        s.save(sp)
        paths.append((str(cp), str(sp)))
    return paths


# --------------------------------------------------------------------------------------------
# Runners
# --------------------------------------------------------------------------------------------


def run_original(orig, content_path: str, style_path: str, steps: int, capture: dict | None = None) -> tuple[list[float], float]:
    """Run the original; return per-step timestamps and total seconds (setup included)."""
    clock = StepClock()
    orig.trange = clock
    if capture is not None:
        real_to_pil = orig.imgtensor2pil

        def grab(t, mean, std):
            capture["x"] = t.clone()
            return real_to_pil(t, mean, std)

        orig.imgtensor2pil = grab
    t0 = now_s()
    try:
        orig.transfer_style(content_path, style_path, steps, 1, 1000, torch.device("cpu"), "vgg19")
    finally:
        if capture is not None:
            orig.imgtensor2pil = real_to_pil
    return clock.times, now_s() - t0


def run_ours(vgg, contents, styles, steps: int, precision: str, optimizer: str = "adam", stop_at: float | None = None):
    """Run ours on a batch; return (step timestamps, total seconds, results, (t, loss) trace)."""
    times: list[float] = []
    trace: list[tuple[float, float]] = []
    t0 = now_s()

    def progress(step, losses):
        now = now_s()
        times.append(now)
        trace.append((now - t0, losses["total"]))
        if stop_at is not None and losses["total"] <= stop_at:
            return False
        return None

    cfg = st_config.StyleTransferConfig.from_ratio("1:1000", steps=steps, optimizer=optimizer, precision=precision, seed=SEED)
    try:
        res = st_transfer.transfer_style_batch(contents, styles, cfg, vgg=vgg, batch_size=len(contents), progress=progress)
    except errors.Cancelled:
        res = None
    return [t0] + times, now_s() - t0, res, trace


def vgg_floor(vgg, n: int, size: int, steps: int) -> float:
    """Median seconds of the work no fp32 implementation can skip: VGG19 forward to conv5_1 and backward to
    the input pixels for ``n`` images of ``size`` px, nothing else (no Gram, losses or optimiser), in the
    memory layout ours uses. The original / this = the largest per-step speed-up fp32 could give."""
    ext = vgg_net.VGGFeatures(vgg.features, st_config.StyleTransferConfig().layers)
    x = torch.rand(n, 3, size, size, device=vgg.device)
    fmt = st_transfer._memory_format(x, "fp32")
    ext.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt).requires_grad_(True)
    times = []
    for _ in range(steps + 1):
        times.append(now_s())
        x.grad = None
        sum(f.mean() for f in ext(x).values()).backward()
        if x.is_cuda:
            torch.cuda.synchronize()
    times.append(now_s())
    return per_step(times)


def loss_of(vgg, x_norm: torch.Tensor, content: Image.Image, style: Image.Image) -> float:
    """fp32 total loss (ratio 1:1000) of an ImageNet-normalised ``(1, 3, H, W)`` image."""
    cfg = st_config.StyleTransferConfig()
    ext = vgg_net.VGGFeatures(vgg.features, cfg.layers)
    mean = torch.tensor(st_transfer.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(st_transfer.IMAGENET_STD).view(1, 3, 1, 1)
    c = (st_transfer._to_tensor(content, "c")[0][None] - mean) / std
    s = (st_transfer._to_tensor(style, "s")[0][None] - mean) / std
    with torch.no_grad():
        fc, fs, fx = ext(c), ext(s), ext(x_norm)
        grams = {k: st_transfer.gram_matrix(fs[k]) for k in cfg.style_layers}
        cl, sl = st_transfer._losses(fx, fc[cfg.content_layer], grams, cfg)
    return float(cfg.content_weight * cl + cfg.style_weight * sl)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps per measurement (noisier)")
    ap.add_argument("--lbfgs-size", type=int, default=128)
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="device for ours and the fp32 floor (cpu or cuda); the original "
                    "runs on the CPU as the issue measured it; the memory rows are CPU processes")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall (default) or cpu: process CPU time, which other jobs on the machine barely disturb "
                         "(meaningful with --threads 1; with more threads it counts their spin-waits too)")
    args = ap.parse_args(argv)
    global _ARGS
    _ARGS = " " + " ".join(sys.argv[1:] if argv is None else argv) if (sys.argv[1:] if argv is None else argv) else ""
    if args.threads:
        torch.set_num_threads(args.threads)
    global _clock
    _clock = CLOCKS[args.clock]
    steps128, steps256, steps_batch = (8, 5, 4) if args.quick else (16, 8, 6)

    device = torch.device(args.device)
    vgg = st_vgg.load_vgg19(random_features=True, seed=SEED, device=device)
    orig = import_original(vgg.features)
    auto = st_transfer.resolve_precision("auto", device)
    rows: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_st_"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {_cpu_name()}, "
          f"'auto' precision on this CPU = {auto}", flush=True)

    # 1. fidelity ------------------------------------------------------------------------------
    c64, s64 = make_pair(64, 1)
    (cp, sp), = save_pairs([(c64, s64)], Path(tempfile.mkdtemp(dir=tmp)))
    cap: dict = {}
    run_original(orig, cp, sp, 20, capture=cap)
    _, _, res, _ = run_ours(vgg, [c64], [s64], 20, "fp32")
    ours_img = st_transfer._to_tensor(res[0].image, "x")[0]
    mean = torch.tensor(st_transfer.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(st_transfer.IMAGENET_STD).view(3, 1, 1)
    orig_img = (cap["x"] * std + mean).clamp(0, 1)
    fidelity = float((ours_img - orig_img).abs().max())
    print(f"fidelity (64 px, 20 Adam steps): max |ours fp32 - original| = {fidelity:.2e} (in [0,1] units; ours is rounded to uint8)", flush=True)

    # 2. single image per-step -----------------------------------------------------------------
    for size, steps in ((128, steps128), (256, steps256)):
        c, s = make_pair(size, 2)
        (cp, sp), = save_pairs([(c, s)], Path(tempfile.mkdtemp(dir=tmp)))
        t_orig, t_fp32, t_auto = [], [], []
        for _ in range(2):
            t_orig.append(per_step(run_original(orig, cp, sp, steps)[0]))
            t_fp32.append(per_step(run_ours(vgg, [c], [s], steps, "fp32")[0]))
            if auto != "fp32":
                t_auto.append(per_step(run_ours(vgg, [c], [s], steps, auto)[0]))
        o = statistics.median(t_orig)
        rows.append(dict(setting=f"1 image, {size} px", unit="s/step", original=o, ours_fp32=statistics.median(t_fp32),
                         ours_auto=statistics.median(t_auto) if t_auto else None,
                         floor=vgg_floor(vgg, 1, size, steps)))
        print(_fmt_row(rows[-1], auto), flush=True)

    # 3. batch of 8 at 128 px ----------------------------------------------------------------
    pairs = [make_pair(128, 10 + i) for i in range(8)]
    paths = save_pairs(pairs, Path(tempfile.mkdtemp(dir=tmp)))
    orig_per_image = []
    for cp, sp in paths:
        times, total = run_original(orig, cp, sp, steps_batch)
        orig_per_image.append(total + (1000 - steps_batch) * per_step(times))
    o = statistics.mean(orig_per_image)
    ours = {}
    for prec in ["fp32"] + ([auto] if auto != "fp32" else []):
        times, total, _, _ = run_ours(vgg, [p[0] for p in pairs], [p[1] for p in pairs], steps_batch, prec)
        ours[prec] = (total + (1000 - steps_batch) * per_step(times)) / len(pairs)
    rows.append(dict(setting="batch of 8, 128 px (1000 steps, extrapolated)", unit="s/image", original=o,
                     ours_fp32=ours["fp32"], ours_auto=ours.get(auto) if auto != "fp32" else None,
                     floor=1000 * vgg_floor(vgg, 8, 128, steps_batch) / 8))
    print(_fmt_row(rows[-1], auto), flush=True)

    # 4. L-BFGS time to the original's 1000-step loss --------------------------------------------
    size = args.lbfgs_size
    c, s = make_pair(size, 3)
    (cp, sp), = save_pairs([(c, s)], Path(tempfile.mkdtemp(dir=tmp)))
    cap = {}
    _, orig_seconds = run_original(orig, cp, sp, 1000, capture=cap)
    mean4 = torch.tensor(st_transfer.IMAGENET_MEAN).view(1, 3, 1, 1)
    std4 = torch.tensor(st_transfer.IMAGENET_STD).view(1, 3, 1, 1)

    def clamped_loss(x01: torch.Tensor) -> float:  # both outputs are images: clamp to [0, 1] first
        return loss_of(vgg, (x01.clamp(0, 1)[None] - mean4) / std4, c, s)

    target = clamped_loss(cap["x"] * std4[0] + mean4[0])
    lbfgs = {}
    for prec in ["fp32"] + ([auto] if auto != "fp32" else []):
        _, _, _, trace = run_ours(vgg, [c], [s], 1000, prec, optimizer="lbfgs", stop_at=target)
        evals = next((i + 1 for i, (_, loss) in enumerate(trace) if loss <= target), None)
        # Check the claim in fp32 on the image itself: rerun to that budget (deterministic) and
        # evaluate its output; take more evaluations while it is still above the target.
        checked = None
        for _ in range(4):
            if evals is None:
                break
            _, _, res, _ = run_ours(vgg, [st_transfer._to_tensor(c, "c")[0]], [st_transfer._to_tensor(s, "s")[0]], evals, prec, optimizer="lbfgs")
            checked = clamped_loss(res[0].image)
            if checked <= target:
                break
            evals = int(evals * 1.25) + 1
            if evals > len(trace):
                _, _, _, trace = run_ours(vgg, [c], [s], evals, prec, optimizer="lbfgs")
        hit = trace[evals - 1][0] if evals is not None and evals <= len(trace) and checked is not None and checked <= target else None
        lbfgs[prec] = (hit, evals, checked)
    rows.append(dict(setting=f"L-BFGS to the original's 1000-step loss ({target:.4g}), {size} px", unit="s",
                     original=orig_seconds, ours_fp32=lbfgs["fp32"][0],
                     ours_auto=lbfgs[auto][0] if auto != "fp32" else None,
                     note="L-BFGS evaluations, fp32 loss of the output: " + "; ".join(
                         f"{p} {lbfgs[p][1]} evals, {lbfgs[p][2]:.4g}" if lbfgs[p][2] is not None else f"{p} not reached"
                         for p in lbfgs)))
    print(_fmt_row(rows[-1], auto), flush=True)

    # 5. peak memory, each in a fresh process --------------------------------------------------
    memory = []
    for label, size, n in (("1 image, 256 px", 256, 1), ("batch of 8, 128 px", 128, 8)):
        got = {impl: measure_memory(impl, size, n, torch.get_num_threads()) for impl in ["original", "fp32"] + ([auto] if auto != "fp32" else [])}
        memory.append((label, got))
        print(f"peak RSS growth, {label}: " + ", ".join(f"{k} {v:.0f} MB" for k, v in got.items()), flush=True)

    text = _section(rows, auto, fidelity, memory)
    print("\n" + text)
    if not args.no_write:
        write_section(text)
        print(f"wrote the '{SECTION}' section of {RESULTS}")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _ratio(orig: float | None, ours: float | None) -> str:
    if not orig or not ours:
        return "n/a"
    return f"{orig / ours:.2f}x"


def _fmt_row(r: dict, auto: str) -> str:
    out = f"{r['setting']}: original {r['original']:.3f} {r['unit']}, ours fp32 {r['ours_fp32'] or float('nan'):.3f} ({_ratio(r['original'], r['ours_fp32'])})"
    if r.get("ours_auto") is not None:
        out += f", ours {auto} {r['ours_auto']:.3f} ({_ratio(r['original'], r['ours_auto'])})"
    if r.get("floor") is not None:
        out += f", fp32 floor {r['floor']:.3f} (at most {_ratio(r['original'], r['floor'])})"
    return out


def _section(rows: list[dict], auto: str, fidelity: float, memory: list) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        SECTION, "",
        f"`python -m bench.bench_style_transfer{_ARGS}`, {when}; CPU, {torch.get_num_threads()} torch threads, "
        f"times are {'process CPU seconds' if _clock is time.process_time else 'wall seconds'} "
        f"({_cpu_name()}), torch {torch.__version__}. Both implementations use the same "
        "seeded *random* VGG19 (pretrained weights cannot be downloaded here); the original is PyPI "
        "`singan-seg-polyp==1.0.7` with its `vgg19(pretrained=True)` monkeypatched to build a vgg19 and load those "
        "weights, as torchvision does on every call (the original builds its model per image; only the 548 MB file read is spared). "
        "Our default precision is fp32 (the original's math); the bf16 columns are the opt-in "
        f"`--precision bf16` (\"auto\" resolves to `{auto}` on this CPU: bf16 autocast for the VGG convs, Gram "
        "matrices and losses in fp32), which changes the pixels. Per-step times are medians over alternating runs; 1000-step times are "
        "extrapolated as (measured run) + (1000 - steps run) x (median step).",
        "",
        f"Fidelity: after 20 Adam steps at 64 px from the same inputs, ours (fp32) differs from the original's "
        f"output by at most {fidelity:.1e} (pixel values in [0, 1]; ours rounds to uint8, i.e. 2.0e-03 is half a grey level).",
        "",
        f"| setting | unit | original | ours fp32 | speed-up | ours {auto} | speed-up | fp32 floor | largest fp32 speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        auto_v = f"{r['ours_auto']:.3f}" if r.get("ours_auto") is not None else "n/a"
        fp32_v = f"{r['ours_fp32']:.3f}" if r.get("ours_fp32") is not None else "not reached"
        floor_v = f"{r['floor']:.3f}" if r.get("floor") is not None else "n/a"
        lines.append(f"| {r['setting']} | {r['unit']} | {r['original']:.3f} | {fp32_v} | {_ratio(r['original'], r['ours_fp32'])} "
                     f"| {auto_v} | {_ratio(r['original'], r.get('ours_auto'))} | {floor_v} | "
                     f"{_ratio(r['original'], r.get('floor'))} |")
        if r.get("note"):
            lines.append(f"|  ({r['note']}) | | | | | | | | |")
    impls = list(memory[0][1]) if memory else []
    lines += [
        "",
        "Peak memory: growth of anonymous resident memory (RssAnon) during 3 steps in a fresh process (after imports and building our VGG; "
        "the original's batch runs its 8 pairs one after another, as its folder function does):",
        "",
        "| setting | " + " | ".join(f"{'ours ' if k != 'original' else ''}{k} MB" for k in impls) + " |",
        "|---|" + "---:|" * len(impls),
    ]
    for label, got in memory:
        lines.append(f"| {label} | " + " | ".join(f"{got[k]:.0f}" for k in impls) + " |")
    lines += [
        "",
        "fp32 floor: the VGG19 forward to conv5_1 plus the backward to the input pixels alone (`vgg_floor`: no Gram "
        "matrices, losses or optimiser), the work every fp32 step must do; original / floor bounds what any fp32 "
        "implementation can gain per step on this machine.",
        "",
        "Targets: >= 1.3x per step for one image, >= 2x per image in a batch of 8, the original's final loss in "
        "<= 1/5 of its time (speed-up >= 5x on the L-BFGS row).",
        "",
    ]
    return "\n".join(lines)




if __name__ == "__main__":
    sys.exit(main())
