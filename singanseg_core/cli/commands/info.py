"""``singanseg info``: describe a checkpoint."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a checkpoint's scales, sizes and settings")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    p.add_argument("--json", action="store_true", help="print config.json as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...model.singanseg import SinGANSeg

    model = SinGANSeg.from_pretrained(args.checkpoint)
    cfg = model.config
    if args.json:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    state = "finished" if cfg.finished else f"partial ({cfg.num_trained} of {cfg.total_scales} scales)"
    print(f"checkpoint   {model.name} ({state}, origin {cfg.source.get('origin', '?')})")
    print(f"channels     {cfg.nc_im} ({'image + mask' if cfg.nc_im == 4 else 'image'})")
    print(f"scale factor {cfg.scale_factor:.6f}")
    print("scale  size (h x w)  nfc  noise_amp")
    for i, ((h, w), nfc, amp) in enumerate(zip(cfg.sizes, cfg.nfc, cfg.noise_amp)):
        print(f"{i:5d}  {h:4d} x {w:<4d}    {nfc:4d}  {amp:.5f}")
    tc = cfg.train.get("config") or {}
    if tc:
        print(f"trained      {tc.get('niter')} it/scale, max_size {tc.get('max_size')}, seed {tc.get('seed')}, "
              f"device {cfg.train.get('device')}")
    return 0
