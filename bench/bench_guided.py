"""Guided generation on real polyps: agreement with the requested mask and realism per injection scale.

For each model (the ``--preset`` (default ``quick``) at ``--sizes`` px on ``--stems`` of ``../shared/data/polyps``; ``--quick``: one
tiny 40 px model for a smoke run) the requested masks are OTHER real polyps' masks, stretched to the model's size
and moved (flipped left-right, shifted by an eighth of the image, shrunk to 3/4 about the centre, in turn). For
every inject scale and guide derivation (``paste``, ``repaint``; ``model.guided``) it samples ``--n`` per guide and
reports the mean IoU with the requested mask, the mean patch nearest-neighbour distance to the real image
(``analysis.realism``; low = made of the real image's patches; the model's own unguided samples give the
reference) and the mean distance to the RGB guide (near 0 with a high patch distance = a blurred copy of the
guide). The unguided row is the model's own samples (start scale 0) against the same requested masks.

Models are cached in ``bench/out/guided/`` (gitignored). Prints a markdown table.

Usage::

    python -m bench.bench_guided --quick
    python -m bench.bench_guided --sizes 64 --stems cju2zp89k9q1g0855k1x0f1xa --guides 3 --n 4
    python -m bench.bench_guided --sizes 128 --preset live --guides 3 --n 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "polyps"
OUT = ROOT / "bench" / "out" / "guided"
MOVES = ("flip", "shift", "shrink")


def moved(mask: np.ndarray, how: str) -> np.ndarray:
    """``mask`` (``(H, W)`` float in [0, 1]) flipped left-right, shifted by (H/8, W/8) with zero fill, or shrunk to
    3/4 about the centre."""
    h, w = mask.shape
    if how == "flip":
        return mask[:, ::-1].copy()
    out = np.zeros_like(mask)
    if how == "shift":
        dy, dx = h // 8, w // 8
        out[dy:, dx:] = mask[:h - dy, :w - dx]
        return out
    from singanseg_core.model.guided import resize

    sh, sw = round(h * 0.75), round(w * 0.75)
    top, left = (h - sh) // 2, (w - sw) // 2
    out[top:top + sh, left:left + sw] = resize(mask, (sh, sw))
    return out


def get_model(stem: str, size: int, quick: bool, preset: str = "quick"):
    """The cached model of ``stem`` at ``size`` px under ``preset`` (trained when missing)."""
    from singanseg_core.model import SinGANSeg, is_finished_checkpoint
    from singanseg_core.training import train
    from singanseg_core.training.config import TrainConfig

    cfg = (TrainConfig.from_preset("tiny", max_size=40, min_size=16, niter=12, seed=0) if quick
           else TrainConfig.from_preset(preset, max_size=size, seed=0))
    folder = OUT / f"{stem}_{'tiny' if quick else preset}{cfg.max_size}"
    if is_finished_checkpoint(folder):
        return SinGANSeg.from_pretrained(folder)
    t = time.time()
    model = train(DATA / "images" / f"{stem}.jpg", DATA / "masks" / f"{stem}.png", folder, cfg, device="cpu",
                  name=stem, overwrite=True)
    print(f"trained {stem} at {cfg.max_size} px in {time.time() - t:.0f} s")
    return model


def measure(model, guide_stems: list[str], n: int) -> list[dict]:
    """Rows: the unguided reference, then one per (inject scale, derivation)."""
    from singanseg_core.analysis.realism import guide_distance, patch_nn_distance
    from singanseg_core.errors import InputError
    from singanseg_core.model.guided import guided_sample, mask_iou, prepare_mask, read_guide_mask, real_pair

    rgb, _ = real_pair(model)
    real = (rgb * 255).astype(np.uint8)
    requests = []
    for i, stem in enumerate(guide_stems):
        base = prepare_mask(model, read_guide_mask(DATA / "masks" / f"{stem}.png"))
        try:
            requests.append(prepare_mask(model, moved(base, MOVES[i % len(MOVES)])))
        except InputError as err:
            print(f"guide {stem} skipped: {err}")
    own = model.sample(n, 0, seed=0)
    rows = [{"scale": "unguided", "derive": "-",
             "iou": float(np.mean([mask_iou(own.masks, r > 0.5).mean() for r in requests])),
             "patch_nn": float(patch_nn_distance(own.images, real).mean()), "guide_dist": float("nan")}]
    for k in range(1, model.num_scales):
        for derive in ("paste", "repaint"):
            ious, nns, gds = [], [], []
            for j, r in enumerate(requests):
                got = guided_sample(model, r, k, n=n, seed=j, derive=derive)
                ious.append(got.iou.mean())
                nns.append(patch_nn_distance(got.images, real).mean())
                gds.append(guide_distance(got.images, got.guide_image).mean())
            h, w = model.scale_sizes[k - 1]
            rows.append({"scale": f"{k} (guide at {w}x{h})", "derive": derive, "iou": float(np.mean(ious)),
                         "patch_nn": float(np.mean(nns)), "guide_dist": float(np.mean(gds))})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_guided", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: one tiny 40 px model, 2 guides, 2 samples")
    p.add_argument("--sizes", type=int, nargs="+", default=[64], help="model sizes (px): 64, and 128 when asked")
    p.add_argument("--stems", nargs="+", default=["cju2zp89k9q1g0855k1x0f1xa"], help="polyps to train on")
    p.add_argument("--guides", type=int, default=3, help="requested masks per model (other polyps' masks)")
    p.add_argument("--n", type=int, default=4, help="samples per guide, inject scale and derivation")
    p.add_argument("--preset", default="quick", help="training preset of the models (e.g. live: a 128 px model in "
                   "about a minute on 2 cores; quick at 128 px takes ~20 min)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: tiny convolutions on a shared 2-core machine)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.quick:
        args.sizes, args.guides, args.n = [40], 2, 2
    stems = sorted(x.stem for x in (DATA / "images").glob("*.jpg"))
    print("| model | inject scale | guide RGB | IoU with requested mask | patch NN distance | distance to guide |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        for stem in args.stems:
            t = time.time()
            model = get_model(stem, size, args.quick, args.preset)
            others = [s for s in stems if s != stem][:: max(1, len(stems) // args.guides)][:args.guides]
            for row in measure(model, others, args.n):
                print(f"| {stem[:8]} {size} px ({args.preset}), {model.num_scales} scales | {row['scale']} | {row['derive']} | "
                      f"{row['iou']:.3f} | {row['patch_nn']:.4f} | {row['guide_dist']:.4f} |", flush=True)
            print(f"<!-- {stem} {size} px measured in {time.time() - t:.0f} s -->")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
