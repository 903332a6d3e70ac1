"""The embedded demo: real microscopy tiles with masks, plus small checkpoints trained by our engine.

Data: ``skimage.data.immunohistochemistry()`` (a 512x512 IHC stained human colon tissue image that ships
inside scikit-image, so it works offline) is cut into 128x128 tiles. Each tile's mask is the DAB
(brown, the antibody stain) channel of a Ruifrok-Johnston colour deconvolution
(``skimage.color.rgb2hed``) of the whole image, smoothed with a Gaussian (sigma 4 px), thresholded at
:data:`DAB_THRESHOLD`, with objects under 200 px removed and holes under 400 px filled: the stained
gland epithelium, blob-shaped regions like polyps in Kvasir-SEG. See ``demo_assets/README.md``.

Checkpoints: ``singanseg demo build`` trains every :data:`DEMO_SPECS` entry into ``demo_assets/checkpoints/``
with its own recorded settings (CPU, one torch thread, seed 0), resuming a partial checkpoint and skipping a
finished one unless forced; the results are committed, so sampling works without training. Two small 64 px
models show the workflow; :data:`SHOWCASE_CHECKPOINT` (128 px, 1000 iterations per scale) is the one a
projector deserves and the one the pages open by default. Build times are in ``demo_assets/README.md``.
``ensure_demo_workspace(ws)`` copies both into an empty workspace on first start and writes a first samples
set (8 per checkpoint, seed 0) so that style transfer and mask statistics work at once.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..files.atomic import atomic_write_json, save_png

ASSETS_DIR = Path(__file__).resolve().parents[1] / "demo_assets"
DEMO_DATASET = "demo-ihc"
TILE = 128
DAB_THRESHOLD = 0.06
DAB_SIGMA = 4.0
# Tiles whose masks cover 10-65 % of the tile (the all-brown / all-blue tiles are left out).
TILE_POSITIONS: list[tuple[int, int]] = [(0, 384), (128, 256), (128, 384), (256, 0), (256, 256), (256, 384),
                                         (384, 0), (384, 128)]


@dataclass(frozen=True)
class DemoCheckpoint:
    """How one demo checkpoint is built: the tile it learns and its training settings (``TrainConfig`` fields
    over the defaults; seed 0)."""

    name: str
    tile: str
    settings: tuple[tuple[str, Any], ...]

    def config(self) -> "TrainConfig":  # noqa: F821 (doc type)
        from ..training.config import TrainConfig

        return TrainConfig(**dict(self.settings)).validated()


# All three were built with the learning-rate drop at 80 % of niter (``lr_drop_at=0.8``, the engine's rule until
# the original's absolute epoch 1600 became the default); recorded so that each spec describes its checkpoint.
DEMO_SPECS: dict[str, DemoCheckpoint] = {d.name: d for d in [
    # 5 scales, 26 -> 64 px, 1.4 MB each: quick to rebuild, blurry on a projector
    DemoCheckpoint("ihc_r256_c256", "ihc_r256_c256", (("max_size", 64), ("niter", 100), ("lr_drop_at", 0.8))),
    DemoCheckpoint("ihc_r128_c384", "ihc_r128_c384", (("max_size", 64), ("niter", 100), ("lr_drop_at", 0.8))),
    # 8 scales, 25 -> 128 px (the tile's own resolution), 1000 iterations per scale: the showcase
    DemoCheckpoint("ihc_gland_128px", "ihc_r256_c256", (("max_size", 128), ("niter", 1000), ("lr_drop_at", 0.8))),
]}
# The checkpoints committed under demo_assets/checkpoints/ (tests check each is there and finished).
DEMO_CHECKPOINTS = ["ihc_r256_c256", "ihc_r128_c384", "ihc_gland_128px"]
SHOWCASE_CHECKPOINT = "ihc_gland_128px"   # the demo checkpoint the pages open by default
DEMO_SAMPLES = "demo-samples"


def dab_mask(rgb: np.ndarray, threshold: float = DAB_THRESHOLD, sigma: float = DAB_SIGMA) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB → ``(H, W)`` uint8 0/255 mask of DAB-stained (brown) tissue regions.

    Colour deconvolution (``rgb2hed``) → DAB optical density → Gaussian blur (``sigma`` px) →
    ``> threshold`` → remove objects < 200 px → fill holes < 400 px.
    """
    from skimage.color import rgb2hed
    from skimage.filters import gaussian
    from skimage.morphology import remove_small_holes, remove_small_objects

    dab = gaussian(rgb2hed(rgb)[..., 2], sigma=sigma)
    mask = remove_small_objects(dab > threshold, max_size=200)
    mask = remove_small_holes(mask, max_size=400)
    return np.where(mask, 255, 0).astype(np.uint8)


def make_tiles() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, image, mask)`` for every demo tile (deterministic). The mask is computed on the whole
    image and then cut, so tile borders do not change it."""
    from skimage import data

    full = data.immunohistochemistry()
    full_mask = dab_mask(full)
    out = []
    for r, c in TILE_POSITIONS:
        tile = np.ascontiguousarray(full[r:r + TILE, c:c + TILE])
        out.append((f"ihc_r{r}_c{c}", tile, np.ascontiguousarray(full_mask[r:r + TILE, c:c + TILE])))
    return out


def build_dataset(dest: Path) -> Path:
    """Write the demo tiles as a Kvasir-SEG layout folder (``images/`` + ``masks/``)."""
    for name, img, msk in make_tiles():
        save_png(dest / "images" / f"{name}.png", img, compress_level=9)
        save_png(dest / "masks" / f"{name}.png", msk, compress_level=9)
    return dest


def build_assets(names: list[str] | None = None, log: Callable[[str], None] = print, device: str = "cpu",
                 force: bool = False, root: Path | None = None) -> dict[str, float]:
    """(Re)build ``demo_assets/``: the dataset, then every checkpoint of :data:`DEMO_SPECS` (or ``names``).

    A finished checkpoint is skipped unless ``force``; a partial one (an interrupted build) is resumed.
    ``trainer_state.safetensors`` and the folder's ``.lock`` are dropped afterwards.
    Returns the training seconds of each checkpoint trained now (training time recorded in its config).
    """
    from ..model.config import is_finished_checkpoint
    from ..training.fit import train

    unknown = sorted(set(names or []) - set(DEMO_SPECS))
    if unknown:
        from ..errors import InputError

        raise InputError(f"unknown demo checkpoint(s) {', '.join(unknown)}; choose from {', '.join(DEMO_SPECS)}")
    root = root or ASSETS_DIR
    dataset = build_dataset(root / "dataset")
    log(f"dataset: {dataset}")
    seconds: dict[str, float] = {}
    for name in names or list(DEMO_SPECS):
        spec, out = DEMO_SPECS[name], root / "checkpoints" / name
        if is_finished_checkpoint(out) and not force:
            log(f"{name}: finished, skipped (--force rebuilds it)")
            continue
        log(f"training {name} on {spec.tile} ({dict(spec.settings)}) -> {out}")
        t0 = time.perf_counter()
        train(dataset / "images" / f"{spec.tile}.png", dataset / "masks" / f"{spec.tile}.png", out, spec.config(),
              overwrite=force, resume=not force, device=device, name=name,
              progress=lambda p: log(f"  scale {p.scale + 1} of {p.num_scales} done in {p.seconds:.0f} s"
                                     + (f", about {p.eta_s / 60:.0f} min left" if p.eta_s else ""))
              if p.scale_done else None)
        for leftover in ("trainer_state.safetensors", ".lock"):  # not needed to sample; keeps the assets small
            (out / leftover).unlink(missing_ok=True)
        seconds[name] = time.perf_counter() - t0
        log(f"{name}: {seconds[name] / 60:.1f} min")
    return seconds


def default_checkpoint(names: list[str]) -> str | None:
    """The checkpoint a page opens by default among ``names``: the showcase when it is there, else the first."""
    return SHOWCASE_CHECKPOINT if SHOWCASE_CHECKPOINT in names else (names[0] if names else None)


def demo_available() -> bool:
    return (ASSETS_DIR / "dataset" / "images").is_dir()


DEMO_MARKER = "demo.json"   # in the workspace root: the demo was installed here once (what, in its JSON)


def ensure_demo_workspace(ws: "Workspace", force: bool = False) -> bool:  # noqa: F821 (doc type)
    """Copy the demo dataset and checkpoints into ``ws`` when it holds no dataset and no checkpoint yet and the
    demo was never installed there (:data:`DEMO_MARKER`): a workspace the teacher emptied stays empty, whatever
    runs this again (a server restart, a visitor's cache clear). ``force`` installs it anyway.

    Returns True when something was copied. Safe to call on every start: an existing workspace is left alone,
    and two processes racing on a fresh workspace each copy into a temporary folder and rename.
    """
    from ..files.atomic import atomic_directory

    if not demo_available():
        return False
    if not force and ((ws.root / DEMO_MARKER).exists() or ws.list_datasets() or ws.list_checkpoints()):
        return False
    copied = False
    targets = [(ASSETS_DIR / "dataset", ws.datasets / DEMO_DATASET)]
    ck_root = ASSETS_DIR / "checkpoints"
    shipped = [n for n in DEMO_CHECKPOINTS if (ck_root / n).is_dir()]  # not a build in progress
    targets += [(ck_root / n, ws.checkpoints / n) for n in shipped]
    for src, dest in targets:
        if dest.exists():
            continue
        try:
            with atomic_directory(dest) as tmp:
                shutil.copytree(src, tmp, dirs_exist_ok=True)
            copied = True
        except FileExistsError:  # another session won the race
            pass
    samples = ws.samples / DEMO_SAMPLES
    if copied and not samples.exists():
        _write_demo_samples(ws, samples)
    if copied:
        atomic_write_json(ws.root / DEMO_MARKER, {"demo": True, "dataset": DEMO_DATASET,
                                                  "checkpoints": sorted(shipped)})
    return copied


def _write_demo_samples(ws: "Workspace", dest: Path, n: int = 8) -> None:  # noqa: F821
    """A first samples set (``n`` per demo checkpoint, seed 0), so style transfer and statistics work at once."""
    from ..files.atomic import atomic_directory
    from ..model.singanseg import SinGANSeg
    from ..sampling.writer import write_samples

    try:
        with atomic_directory(dest) as tmp:
            for name in DEMO_CHECKPOINTS:
                if (ws.checkpoints / name / "config.json").is_file():
                    write_samples(SinGANSeg.from_pretrained(ws.checkpoints / name), tmp, n, seed=0, workers=1)
    except FileExistsError:
        pass


def is_demo_workspace(ws: "Workspace") -> bool:  # noqa: F821
    """True while the installed demo's dataset or a demo checkpoint is still in ``ws``."""
    if not (ws.root / DEMO_MARKER).is_file():
        return False
    return (ws.datasets / DEMO_DATASET).is_dir() or any((ws.checkpoints / n).is_dir() for n in DEMO_CHECKPOINTS)


def has_own_data(ws: "Workspace") -> bool:  # noqa: F821
    """Whether ``ws`` holds a dataset or a checkpoint that is not the demo's (then "Demo data is loaded" is no
    longer what the workspace is about)."""
    return (any(name != DEMO_DATASET for name in ws.list_datasets())
            or any(name not in DEMO_SPECS for name in ws.list_checkpoints()))


def describe_demo(ws: "Workspace") -> str:  # noqa: F821
    """One sentence on the demo items ``ws`` holds, counted in the workspace and described by :data:`DEMO_SPECS`
    (tile count, and per training setting how many checkpoints at which size and iterations per scale)."""
    tiles = len(ws.dataset_pairs(DEMO_DATASET)) if DEMO_DATASET in ws.list_datasets() else 0
    groups: dict[tuple[int, int], int] = {}
    for name in ws.list_checkpoints():
        if name in DEMO_SPECS:
            cfg = DEMO_SPECS[name].config()
            groups[(cfg.max_size, cfg.niter)] = groups.get((cfg.max_size, cfg.niter), 0) + 1
    n = sum(groups.values())
    parts = [f"{k} at {size} px with {niter} iterations per scale"
             for (size, niter), k in sorted(groups.items())]
    text = f"{tiles} tile{'s' if tiles != 1 else ''} of an immunohistochemistry image of colon tissue"
    if n:
        text += (f", plus {n} demo checkpoint{'s' if n != 1 else ''} trained by this engine on the CPU ("
                 + "; ".join(parts) + ")")
    return text
