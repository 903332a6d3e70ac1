"""The guide options shared by ``singanseg sample --guide-mask`` and ``singanseg edit``, and the guided run of
``sample`` (``model.guided``, ``sampling.guided_writer``)."""

from __future__ import annotations

import argparse

from ...model.config import MAX_SCALES
from ._common import int_in


def add_inject_scale(p: argparse.ArgumentParser, required: bool) -> None:
    """``--inject-scale``: where the guide enters the pyramid (checked against the model: 1..scales-1)."""
    p.add_argument("--inject-scale", type=int_in(1, MAX_SCALES), required=required, default=None, metavar="K",
                   help="scale whose input is the guide (1 = coarse: looks most like the model's own, follows the "
                        "mask least; up to the model's scales - 1: follows the guide closely)")


def add_guide_options(p: argparse.ArgumentParser) -> None:
    """``sample``'s guide options (all off by default: plain sampling)."""
    from ...model.guided import DERIVE_METHODS

    group = p.add_argument_group("guided sampling (tell the model where the object goes)")
    group.add_argument("--guide-mask", default=None, metavar="M.png",
                       help="requested mask (any size, stretched to the model's; binary or soft grey levels)")
    group.add_argument("--guide-image", default=None, metavar="I.png",
                       help="coarse RGB guide (default: derived from the model's real image, see --guide-derive)")
    group.add_argument("--guide-derive", choices=DERIVE_METHODS, default="paste",
                       help="without --guide-image: the real object's texture pasted into the mask (paste) or its "
                            "mean colour painted there (repaint); the real object is inpainted away first")
    add_inject_scale(group, required=False)  # type: ignore[arg-type]


def check_guide_args(args: argparse.Namespace) -> bool:
    """Whether ``sample`` runs guided; ``InputError`` for guide options without ``--guide-mask`` or plain-sampling
    options that do not apply to a guided run."""
    from ...errors import InputError

    if args.guide_mask is None:
        if args.guide_image is not None or args.inject_scale is not None:
            raise InputError("--guide-image and --inject-scale need --guide-mask")
        return False
    if args.inject_scale is None:
        raise InputError("--guide-mask needs --inject-scale")
    unused = [name for name, value, default in (("--gen-start-scale", args.gen_start_scale, 0),
                                                ("--scale-h", args.scale_h, 1.0), ("--scale-v", args.scale_v, 1.0),
                                                ("--redraw-empty", args.redraw_empty, 0),
                                                ("--precision", args.precision or "fp32", "fp32"),
                                                ("--compile", args.compile, False)) if value != default]
    if unused:
        raise InputError(f"{', '.join(unused)} do(es) not apply to guided sampling (--inject-scale sets where "
                         "the fresh noise starts)")
    return True


def report(rows, out: str) -> int:
    """One line per model: samples, inject scale, mean IoU with the requested mask, empty masks."""
    for name, part in rows.groupby("checkpoint", sort=False):
        print(f"{name}: {len(part)} samples injected at scale {int(part['inject_scale'].iloc[0])}, mean IoU with the "
              f"requested mask {part['guide_iou'].mean():.3f}, {int((part['true_pixel_pct'] == 0).sum())} empty "
              f"mask(s) -> {out}")
    return 0


def run_guided(args: argparse.Namespace, models: list) -> int:
    """``singanseg sample --guide-mask ...``: one guided set of ``--n`` samples per checkpoint."""
    from pathlib import Path

    from ...model.guided import check_inject_scale, guided_sample, read_guide_image, read_guide_mask
    from ...sampling.guided_writer import GuideRecord, file_sha256, write_guided_set

    for model in models:  # every model's range, before any work
        check_inject_scale(model, args.inject_scale)
    mask = read_guide_mask(args.guide_mask)
    image = None if args.guide_image is None else read_guide_image(args.guide_image)
    record = GuideRecord(
        guide=f"mask:{Path(args.guide_mask).name}", guide_mask_sha256=file_sha256(args.guide_mask),
        guide_image=(f"derived:{args.guide_derive}" if image is None else f"file:{Path(args.guide_image).name}"),
        guide_image_sha256="" if image is None else file_sha256(args.guide_image))

    def make(model):
        return guided_sample(model, mask, args.inject_scale, guide_image=image, n=args.n, seed=args.seed,
                             batch_size=args.batch_size, derive=args.guide_derive, what=args.guide_mask)

    return report(write_guided_set(models, args.out, make, record, overwrite=args.overwrite), args.out)
