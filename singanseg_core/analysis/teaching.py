"""Teaching figures: how a SinGAN-Seg pyramid builds one sample, and what the start scale does.

Both figures are plain PIL images (no matplotlib), so the dashboard shows them and the CLI writes them as PNG.
The captions are constants written for students; the teaching page reuses them next to its own widgets.

* :func:`trace_figure` — one row per scale of a :class:`~singanseg_core.model.trace.PyramidTrace`: the real
  image and mask at that scale, the noise map, the upsampled output of the scale below, and this scale's
  output image and mask channel; then the final raw mask and the mask at a threshold.
* :func:`start_scale_figure` — one row per start scale of ``SinGANSeg.start_scale_grid``: the same seed
  generated from every start scale.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..model.samples import Samples
from ..model.trace import MASK_THRESHOLD, PyramidTrace, ScaleTrace
from ..model.training_log import scale_label

# One sentence per kind of picture, for students (the teaching page shows them as captions).
TRACE_CAPTIONS: dict[str, str] = {
    "scale": ("SinGAN-Seg is a pyramid of small generators, each trained on the same single image at its own "
              "size, from a coarse thumbnail (top) to the full picture (bottom)."),
    "real": ("The training image and its mask shrunk to this scale: the only example this scale ever sees, and "
             "what its discriminator compares every fake against, patch by patch."),
    "noise": ("The random noise drawn for this scale, multiplied by the printed amplitude: strong noise at the "
              "coarsest scale decides the layout, weaker noise at finer scales only varies details."),
    "prev_up": ("The picture made by the scale above, enlarged to this size: the blurry starting point that this "
                "scale's generator refines."),
    "output": ("This scale's output: the enlarged picture plus the details its generator adds, which becomes the "
               "starting point of the next, finer scale."),
    "mask": ("The fourth channel of the same output: image and mask are generated together by one network, "
             "which is why the synthetic mask fits the synthetic image."),
    "raw_mask": ("The final mask channel before thresholding, from black (0) to white (1); pixels above the "
                 "threshold become the polyp, and the true-pixel % is the share of such pixels."),
    "guide": ("A guided sample: the guide (an image with the requested mask) is shrunk to the scale just coarser "
              "than the entry scale and stands in for everything the coarser scales would have drawn; from the "
              "entry scale on each finer scale adds the texture and detail it learnt, so the layout is the "
              "guide's and the look is the model's."),
    "stored_noise": ("Scales marked 'stored noise' reuse the fixed noise learned for reconstructing the training "
                     "image instead of fresh noise, so they copy its layout."),
}
START_SCALE_CAPTION = ("Each row starts drawing fresh noise at a different scale: starting at 0 changes "
                       "everything, starting later keeps the training image's layout from the coarse scales "
                       "and varies only finer details, and the last row is the reconstruction of the training "
                       "image itself.")

TRACE_COLUMNS: list[tuple[str, str]] = [("real", "real image + mask"), ("noise", "noise (x amp)"),
                                        ("prev_up", "from scale above"), ("output", "output image"),
                                        ("mask", "output mask channel")]
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
MUTED = (110, 110, 110)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def signed_to_uint8(x: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] → uint8 levels (the rule of ``tensor_to_uint8``: truncation)."""
    return (np.clip((np.asarray(x, np.float32) + 1.0) / 2.0, 0.0, 1.0) * 255.0).astype(np.uint8)


def noise_to_uint8(noise: np.ndarray) -> np.ndarray:
    """Standard-normal noise → grey levels, -3..3 mapped to black..white."""
    return (np.clip((np.asarray(noise, np.float32) + 3.0) / 6.0, 0.0, 1.0) * 255.0).astype(np.uint8)


def _tile(arr: np.ndarray, size: int) -> Image.Image:
    """A uint8 ``(h, w)`` or ``(h, w, 3)`` array scaled to ``size`` px on its longest side. Enlarging uses
    nearest neighbours, so a coarse scale shows its real pixels."""
    img = Image.fromarray(np.ascontiguousarray(arr)).convert("RGB")
    w, h = img.size
    f = size / max(w, h)
    new = (max(1, round(w * f)), max(1, round(h * f)))
    return img.resize(new, Image.NEAREST if f >= 1 else Image.BILINEAR)


def outlined(image: np.ndarray, mask: np.ndarray | None, tile: int) -> Image.Image:
    """``image`` (uint8 RGB) scaled to ``tile`` px with the outline of ``mask`` (> 127 = object) drawn in green,
    about ``tile / 64`` px thick, so the texture under the mask stays visible."""
    img = _tile(image[..., :3], tile)
    if mask is None:
        return img
    m = np.asarray(_tile(np.where(np.asarray(mask) > 127, 255, 0).astype(np.uint8), tile).convert("L")) > 127
    inner = m.copy()
    for _ in range(max(1, tile // 64)):
        inner = inner & np.roll(inner, 1, 0) & np.roll(inner, -1, 0) & np.roll(inner, 1, 1) & np.roll(inner, -1, 1)
    out = np.asarray(img).copy()
    out[m & ~inner] = (0, 230, 0)
    return Image.fromarray(out)


def scale_row_label(s: ScaleTrace, num_scales: int) -> list[str]:
    """The text beside a scale's row: which scale, its size, its noise amplitude, where its noise came from."""
    h, w = s.size
    return [scale_label(s.scale, num_scales), f"{w}x{h} px", f"amp {s.noise_amp:.3g}",
            "stored noise" if s.used_stored_noise else "fresh noise"]


def guide_row(trace: PyramidTrace, tile: int) -> tuple[list[str], list[Image.Image]]:
    """The row above a guided trace's scales: the injected guide image with its mask outlined, and the mask, in the
    output columns (the guide stands in for the output of the scale below the entry scale)."""
    g = trace.guide
    h, w = g.shape[:2]
    mask = signed_to_uint8(g[..., 3]) if g.shape[-1] >= 4 else None
    image = signed_to_uint8(g[..., :3])
    blank = Image.new("RGB", (tile, tile), BACKGROUND)
    mask_tile = _tile(mask, tile) if mask is not None else blank
    tiles = [blank, blank, blank, outlined(image, mask, tile), mask_tile]  # in the output columns: it IS one
    return ["guide", f"{w}x{h} px", "stands in for", scale_label(trace.inject_scale - 1, trace.num_scales)], tiles


def scale_row_images(s: ScaleTrace, tile: int = 128) -> list[Image.Image]:
    """The five tiles of a scale's row, in :data:`TRACE_COLUMNS` order."""
    mask = s.output[..., 3] if s.output.shape[-1] >= 4 else np.zeros(s.output.shape[:2], np.float32) - 1
    real_mask = s.real[..., 3] if s.real.shape[-1] >= 4 else None
    return [outlined(s.real, real_mask, tile), _tile(noise_to_uint8(s.noise), tile),
            _tile(signed_to_uint8(s.prev_up[..., :3]), tile), _tile(signed_to_uint8(s.output[..., :3]), tile),
            _tile(signed_to_uint8(mask), tile)]


def _text_block(draw: ImageDraw.ImageDraw, xy: tuple[int, int], lines: Sequence[str], font, fill=INK,
                spacing: int = 4) -> None:
    x, y = xy
    for line in lines:
        draw.text((x, y), line, font=font, fill=fill)
        y += font.getbbox("Ag")[3] + spacing


def _grid(rows: list[tuple[list[str], list[Image.Image]]], headers: list[str], title: list[str],
          footer: list[str], tile: int, label_w: int, font_size: int) -> Image.Image:
    """Lay out rows of tiles with a label column, column headers, a title and a wrapped footer."""
    font, small = _font(font_size), _font(max(10, font_size - 2))
    line_h = font.getbbox("Ag")[3] + 4
    gap = max(4, tile // 24)
    ncols = max((len(imgs) for _, imgs in rows), default=0)
    width = label_w + ncols * (tile + gap) + gap
    chars = max(20, int(width / (font_size * 0.55)))
    foot = [w for line in footer for w in (textwrap.wrap(line, chars) or [""])]
    top = gap + line_h * len(title) + (line_h + gap if headers else 0)
    row_h = [max(tile, line_h * len(lbl)) + gap for lbl, _ in rows]
    height = top + sum(row_h) + (gap + line_h * len(foot) if foot else 0) + gap
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    _text_block(draw, (gap, gap), title, font)
    y = gap + line_h * len(title)
    for c, head in enumerate(headers):
        draw.text((label_w + gap + c * (tile + gap), y), head, font=small, fill=MUTED)
    y = top
    for (lbl, imgs), h in zip(rows, row_h):
        _text_block(draw, (gap, y), lbl, small)
        for c, img in enumerate(imgs):
            canvas.paste(img, (label_w + gap + c * (tile + gap) + (tile - img.width) // 2, y + (tile - img.height) // 2))
        y += h
    if foot:
        _text_block(draw, (gap, y + gap), foot, small, fill=MUTED)
    return canvas


def trace_figure(trace: PyramidTrace, tile: int = 128, threshold: float = MASK_THRESHOLD, font_size: int = 14,
                 captions: bool = True, name: str = "") -> Image.Image:
    """The teaching figure of a traced sample: one row per scale (coarse at the top), columns as in
    :data:`TRACE_COLUMNS`, then a last row with the final image, its raw mask channel, the mask at
    ``threshold`` and an overlay. ``captions`` appends :data:`TRACE_CAPTIONS` under the grid.

    Returns an RGB ``PIL.Image`` about ``(tile + gap) x 5 + label`` px wide.
    """
    n = trace.num_scales
    rows = [(scale_row_label(s, n) + (["guide enters here"] if s.scale == trace.inject_scale else []),
             scale_row_images(s, tile)) for s in trace.scales]
    if trace.inject_scale is not None and trace.guide is not None:
        rows.insert(0, guide_row(trace, tile))
    mask, pct = trace.mask_at(threshold)
    raw = trace.raw_mask if trace.raw_mask is not None else np.zeros(trace.image.shape[:2], np.float32)
    rows.append((["final: image,", "raw mask channel,", f"mask at {threshold:g},", "outline;",
                  f"{pct:.1f} % true"],
                 [_tile(trace.image, tile), _tile((np.clip(raw, 0, 1) * 255).astype(np.uint8), tile),
                  _tile(mask, tile), outlined(trace.image, mask, tile)]))
    if trace.inject_scale is not None:
        title = [f"How {name or 'the model'} builds one guided sample (seed {trace.seed}, the guide enters at "
                 f"{scale_label(trace.inject_scale, n)})"]
    else:
        title = [f"How {name or 'the model'} builds one sample (seed {trace.seed}, fresh noise from "
                 f"{scale_label(trace.gen_start_scale, n) if trace.gen_start_scale < n else 'no scale'})"]
    headers = [h for _, h in TRACE_COLUMNS]
    footer = []
    if captions:
        footer = [f"{label}: {TRACE_CAPTIONS[key]}" for key, label in
                  [("scale", "rows"), *TRACE_COLUMNS, ("raw_mask", "final row")]]
        if trace.inject_scale is not None:
            footer.insert(0, f"guide: {TRACE_CAPTIONS['guide']}")
        if any(s.used_stored_noise for s in trace.scales):
            footer.append(f"stored noise: {TRACE_CAPTIONS['stored_noise']}")
    label_w = int(font_size * 9)
    return _grid(rows, headers, title, footer, tile, label_w, font_size)


def start_scale_row_label(k: int, num_scales: int) -> list[str]:
    """The text beside start scale ``k``'s row."""
    if k >= num_scales:
        return [f"start {k}", "reconstruction", "(stored noise only)"]
    if k == 0:
        return [f"start {k}", "fresh noise at", "every scale"]
    return [f"start {k}", "fresh noise from", scale_label(k, num_scales)]


def start_scale_figure(grid: Sequence[Samples], tile: int = 96, real: np.ndarray | None = None,
                       real_mask: np.ndarray | None = None, font_size: int = 14, captions: bool = True,
                       name: str = "") -> Image.Image:
    """One row per start scale (``grid[k]`` from ``SinGANSeg.start_scale_grid``): each sample's image with its
    mask outlined, in order. ``real`` / ``real_mask`` (the training pair) are shown in a first row for
    comparison. Returns an RGB ``PIL.Image``."""
    num_scales = len(grid) - 1
    rows: list[tuple[list[str], list[Image.Image]]] = []
    if real is not None:
        m = real_mask
        rows.append((["training", "image"], [outlined(real, m, tile)]))
    for k, samples in enumerate(grid):
        rows.append((start_scale_row_label(k, num_scales),
                     [outlined(img, msk, tile) for img, msk in zip(samples.images, samples.masks)]))
    seed = grid[0].seed if grid else 0
    title = [f"{name or 'The model'}: seed {seed} generated from every start scale (mask outlined in green)"]
    footer = [START_SCALE_CAPTION] if captions else []
    return _grid(rows, [], title, footer, tile, int(font_size * 8.5), font_size)


__all__ = ["START_SCALE_CAPTION", "TRACE_CAPTIONS", "TRACE_COLUMNS", "guide_row", "noise_to_uint8",
           "scale_row_images",
           "scale_row_label", "signed_to_uint8", "start_scale_figure", "start_scale_row_label", "trace_figure"]
