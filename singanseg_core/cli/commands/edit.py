"""``singanseg edit``: move, scale, duplicate or remove the training object of a checkpoint and harmonise the edit
through the pyramid (``model.edit``)."""

from __future__ import annotations

import argparse

from ._common import device_name, float_in, int_in, sampling_setting
from ._guide import add_inject_scale, report


def offset(text: str) -> tuple[int, int]:
    """``type=`` for ``DX,DY`` (integer pixels at the model's output size)."""
    parts = str(text).split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return int(parts[0]), int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be DX,DY (two integers, pixels), got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    from ...model.edit import MAX_DUPLICATES, SCALE_RANGE
    from ...model.guided import MAX_GUIDED_SAMPLES

    p = sub.add_parser("edit", help="move / scale / duplicate / remove the training object, harmonised by the model",
                       description="Cuts the real object (image and mask together) out of the training pair, puts it "
                                   "back moved, scaled or duplicated (or inpaints its place for --remove), and lets "
                                   "the model's scales from --inject-scale on redraw the result. Writes the usual "
                                   "samples, the requested mask, the edited guide and manifest.csv. Offsets are in "
                                   "pixels of the model's output size; write a negative one with '=', e.g. "
                                   "--move=-5,3.")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    p.add_argument("--move", type=offset, default=(0, 0), metavar="DX,DY", help="move the object (right, down)")
    p.add_argument("--scale", type=float_in(*SCALE_RANGE), default=1.0, help="object size factor")
    p.add_argument("--duplicate", type=offset, action="append", default=[], metavar="DX,DY",
                   help=f"one more copy at DX,DY from the object's original place (repeat, at most {MAX_DUPLICATES})")
    p.add_argument("--remove", action="store_true", help="remove the object (inpainted from the surrounding colours)")
    add_inject_scale(p, required=True)
    p.add_argument("--n", type=int_in(1, MAX_GUIDED_SAMPLES), default=4, help="harmonised versions")
    p.add_argument("--seed", type=sampling_setting("seed"), default=0, help="random seed")
    p.add_argument("--batch-size", type=sampling_setting("batch_size"), default=None,
                   help="samples generated per batch (default: 4 on CPU, 64 on GPU)")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda")
    p.add_argument("--out", required=True, help="output folder (new; written all at once when complete)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...device import resolve_device
    from ...model.edit import EditSpec, edit
    from ...model.guided import check_inject_scale
    from ...model.singanseg import SinGANSeg
    from ...sampling.guided_writer import GuideRecord, write_guided_set

    spec = EditSpec(move=args.move, scale=args.scale, duplicates=tuple(args.duplicate), remove=args.remove)
    model = SinGANSeg.from_pretrained(args.checkpoint, device=resolve_device(args.device))
    spec.check(model.scale_sizes[-1])
    check_inject_scale(model, args.inject_scale)

    def make(m: SinGANSeg):
        return edit(m, spec, args.inject_scale, n=args.n, seed=args.seed, batch_size=args.batch_size)

    record = GuideRecord(guide=f"edit:{spec.describe()}", guide_image="edit")
    return report(write_guided_set([model], args.out, make, record, overwrite=args.overwrite), args.out)
