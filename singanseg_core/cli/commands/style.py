"""``singanseg style`` (one image) and ``singanseg style-batch`` (a samples folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...errors import InputError
from ...style.config import MIN_SIDE
from ._common import SEED, device_name, int_in, ranged

RANDOM_WARNING = "NOTE: random VGG19 features (--random-features), NOT pretrained: for tests and offline demos only"


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("style transfer")
    g.add_argument("--ratio", default="1:1000",
                   help="content:style loss weights; presets 1:1 and 1:1000 (the paper, default), or any A:B")
    g.add_argument("--steps", type=ranged("steps"), default=1000, help="Adam steps / L-BFGS evaluations (default 1000, the original)")
    g.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam", help="adam (original, default) or lbfgs")
    g.add_argument("--lr", type=ranged("lr"), default=None, help="learning rate (default: 0.01 Adam, 1.0 L-BFGS)")
    g.add_argument("--size", type=int_in(MIN_SIDE, 4096), default=None,
                   help="processing size in px of the longer side (e.g. 128, 256); result resized back (default: native)")
    g.add_argument("--content-layer", default="conv5_1", help="VGG19 content layer (default conv5_1 as the original; Gatys: conv4_2)")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="fp32",
                   help="fp32 = the original's math (default); bf16/auto = bf16 autocast for the VGG convs "
                        "where the device supports it natively (faster, changes the pixels slightly)")
    g.add_argument("--early-stop", action="store_true", help="stop when the loss stops improving (off: fidelity)")
    g.add_argument("--seed", type=int_in(*SEED), default=0, help="seed (random VGG weights with --random-features)")
    g.add_argument("--device", type=device_name, default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    w = p.add_argument_group("VGG19 weights")
    w.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="local torchvision vgg19 state_dict (.pth/.safetensors); default $SINGANSEG_VGG19_WEIGHTS, "
                        "then torchvision's cache / download")
    w.add_argument("--no-download", action="store_true", help="never try to download the torchvision weights")
    w.add_argument("--random-features", action="store_true",
                   help="seeded RANDOM VGG19 weights instead of pretrained ones (tests/offline demos only)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def register(subparsers) -> None:
    p = subparsers.add_parser("style", help="restyle one generated image with a real image's style (SinGAN-Seg step 2)",
                              description="Neural style transfer: CONTENT (generated image) takes the style of STYLE (real image).")
    p.add_argument("--content", required=True, metavar="IMG", help="content image (the generated image)")
    p.add_argument("--style", required=True, metavar="IMG", help="style image (its real training image)")
    p.add_argument("--out", required=True, metavar="FILE", help="output image (.png keeps the parameters as metadata)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _add_common(p)
    p.set_defaults(func=handle_style)

    b = subparsers.add_parser("style-batch", help="restyle every image of a samples folder (manifest.csv); masks copied unchanged",
                              description="Pairs each generated image with its checkpoint's real image via manifest.csv. "
                                          "Writes <image stem>_st.png, copies masks byte for byte and writes an extended "
                                          "manifest.csv to --out. Existing outputs are skipped (resumable).")
    b.add_argument("--samples", required=True, metavar="DIR", help="samples folder with manifest.csv")
    b.add_argument("--out", required=True, metavar="DIR", help="output folder")
    b.add_argument("--real-dir", default=None, metavar="DIR",
                   help="style images as DIR/<checkpoint>.* (the authors' real_images/<id>.jpg) instead of <checkpoint_path>/real.png")
    b.add_argument("--batch-size", type=ranged("style_batch"), default=8, help="pairs optimised together (default 8)")
    _add_common(b)
    b.set_defaults(func=handle_style_batch)


def _config(args):
    from ...style.config import StyleTransferConfig

    return StyleTransferConfig.from_ratio(
        args.ratio, steps=args.steps, optimizer=args.optimizer, lr=args.lr, size=args.size,
        content_layer=args.content_layer, precision=args.precision, early_stop=args.early_stop, seed=args.seed,
    )


def _load_vgg(args, cfg):
    from ...style.vgg import load_vgg19

    return load_vgg19(args.vgg_weights, args.random_features, cfg.seed, args.device, allow_download=not args.no_download)


def _step_printer(args, total: int):
    if args.quiet:
        return None
    every = max(1, total // 10)

    def progress(step: int, losses: dict) -> None:
        if step % every == 0 or step == total:
            print(f"  step {step}/{total}: content {losses['content']:.4g}, style {losses['style']:.4g}, "
                  f"total {losses['total']:.4g}", file=sys.stderr, flush=True)

    return progress


def handle_style(args) -> int:
    from ...files.atomic import atomic_write_bytes
    from ...style.transfer import encode_png, open_rgb, transfer_style_batch

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise InputError(f"{out} already exists (use --overwrite to replace it)")
    cfg = _config(args)
    content = open_rgb(args.content, "content image")
    style = open_rgb(args.style, "style image")
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
    if out.suffix.lower() not in fmt:
        raise InputError(f"--out {out}: unsupported extension (use one of {', '.join(fmt)})")
    vgg = _load_vgg(args, cfg)
    if vgg.random_features:
        print(RANDOM_WARNING, file=sys.stderr)
    res = transfer_style_batch([content], [style], cfg, vgg=vgg, progress=_step_printer(args, cfg.steps))[0]
    md = dict(res.metadata, content_image=str(args.content), style_image=str(args.style))
    if fmt[out.suffix.lower()] == "PNG":
        data = encode_png(res.image, md)
    else:
        import io

        buf = io.BytesIO()
        res.image.save(buf, format=fmt[out.suffix.lower()], **({"quality": 95} if fmt[out.suffix.lower()] in ("JPEG", "WEBP") else {}))
        data = buf.getvalue()
    atomic_write_bytes(out, data)
    note = " [RANDOM VGG features, not pretrained]" if vgg.random_features else ""
    print(f"wrote {out} ({res.image.size[0]}x{res.image.size[1]}, ratio {cfg.ratio}, {res.steps_run} {cfg.optimizer} steps, "
          f"{res.metadata['precision']}, {res.seconds:.1f} s, content {res.content_loss:.4g}, style {res.style_loss:.4g}){note}")
    return 0


def handle_style_batch(args) -> int:
    from ...style.folder import style_transfer_samples

    cfg = _config(args)
    if args.random_features:
        print(RANDOM_WARNING, file=sys.stderr)

    def progress(done: int, total: int, name: str) -> None:
        if not args.quiet:
            print(f"[{done}/{total}] {name}", file=sys.stderr, flush=True)

    manifest = style_transfer_samples(
        args.samples, args.out, cfg, real_dir=args.real_dir, weights=args.vgg_weights,
        random_features=args.random_features, device=args.device, batch_size=args.batch_size,
        progress=progress, allow_download=not args.no_download,
    )
    note = " [RANDOM VGG features, not pretrained]" if args.random_features else ""
    print(f"wrote {manifest} (ratio {cfg.ratio}, {cfg.steps} {cfg.optimizer} steps){note}")
    return 0
