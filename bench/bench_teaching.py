"""The teaching view and the in-page style preview: how long each call the dashboard makes takes.

    .venv/bin/python -m bench.bench_teaching [--threads 2] [--repeats 3] [--no-write]

Measured on the demo checkpoints (the showcase, 128 px, and a 64 px one), median of ``--repeats`` runs after
one warm-up, wall time and this process's CPU time (CPU time is robust to other jobs on a shared machine; on
an idle machine wall ~ CPU / threads for the VGG-bound preview):

1. ``SinGANSeg.trace(seed)`` and ``analysis.teaching.trace_figure``;
2. ``SinGANSeg.start_scale_grid(seed, n=4)`` and ``start_scale_figure``;
3. ``style.preview.preview_style`` on 8 samples of 64 px with its defaults (random VGG19 features: the same
   computation as pretrained ones), and on 8 samples of the 128 px showcase (processed at the default size);
4. ``analysis.quality.assess_samples`` on 16 samples.

Rewrites the ``## Teaching view and style preview`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Callable

import numpy as np
import torch

from bench._results import write_section

SECTION = "## Teaching view and style preview"


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn`` over ``repeats`` runs after one warm-up."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    from singanseg_core.analysis import teaching
    from singanseg_core.analysis.quality import assess_samples
    from singanseg_core.model import SinGANSeg
    from singanseg_core.services.demo import ASSETS_DIR, SHOWCASE_CHECKPOINT
    from singanseg_core.style.preview import PREVIEW_SIZE, PREVIEW_STEPS, preview_style

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    show = SinGANSeg.from_pretrained(ASSETS_DIR / "checkpoints" / SHOWCASE_CHECKPOINT)
    small = SinGANSeg.from_pretrained(ASSETS_DIR / "checkpoints" / "ihc_r256_c256")
    rows: list[tuple[str, float, float]] = []

    def add(label: str, fn: Callable[[], object]) -> None:
        wall, cpu = timed(fn, args.repeats)
        rows.append((label, wall, cpu))
        print(f"{label:70s} {wall:7.3f} s wall {cpu:7.3f} s CPU", flush=True)

    for m in (show, small):
        tag = f"{m.name} ({m.num_scales} scales, {m.scale_sizes[-1][1]} px)"
        add(f"trace, {tag}", lambda m=m: m.trace(seed=0))
        add(f"trace + trace_figure (tile 128), {tag}",
            lambda m=m: teaching.trace_figure(m.trace(seed=0), tile=128, name=m.name))
        add(f"start_scale_grid n=4, {tag}", lambda m=m: m.start_scale_grid(seed=0, n=4))
        add(f"start_scale_grid n=4 + start_scale_figure, {tag}",
            lambda m=m: teaching.start_scale_figure(m.start_scale_grid(seed=0, n=4), name=m.name))
        add(f"sample 16 + assess_samples, {tag}", lambda m=m: assess_samples(m.sample(16, seed=0)))
    style_small = np.asarray(small.real_image())
    images_64 = list(small.sample(8, seed=0).images)
    add(f"preview_style 8 x 64 px, defaults (size {PREVIEW_SIZE}, {PREVIEW_STEPS} L-BFGS steps, auto precision)",
        lambda: preview_style(images_64, style_small, random_features=True))
    add("preview_style 8 x 64 px, fp32", lambda: preview_style(images_64, style_small, random_features=True,
                                                                precision="fp32"))
    images_128 = list(show.sample(8, seed=0).images)
    add(f"preview_style 8 x 128 px showcase samples, defaults (processed at {PREVIEW_SIZE} px)",
        lambda: preview_style(images_128, np.asarray(show.real_image()), random_features=True))

    body = [SECTION, "",
            f"`python -m bench.bench_teaching --threads {args.threads} --repeats {args.repeats}` on "
            f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s); "
            "median after a warm-up. CPU = this process's CPU time (all threads).", "",
            "| call | wall s | CPU s |", "|---|---:|---:|"]
    body += [f"| {label} | {wall:.3f} | {cpu:.3f} |" for label, wall, cpu in rows]
    if not args.no_write:
        write_section("\n".join(body))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
