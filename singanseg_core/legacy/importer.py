"""The authors' checkpoint folders (``Gs.pth``, ``Zs.pth``, ``reals.pth``, ``NoiseAmp.pth``) as our models:
read through the restricted :mod:`.unpickler`, hyper-parameters recovered from the tensors (:func:`infer_config`),
written as regular :class:`~singanseg_core.model.SinGANSeg` checkpoints (safetensors + JSON), one folder per model.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errors import Cancelled, CheckpointError, InputError
from ..files.atomic import atomic_directory
from ..model.config import ModelConfig
from ..model.samples import tensor_to_uint8
from ..model.singanseg import SinGANSeg
from ..networks.singan import Generator, noise_pad
from ..persistence import CONFIG_NAME
from .unpickler import GENERATOR_CLASSES, MAX_FILE_BYTES, MAX_SCALES, PickledModule, _short, restricted_load

__all__ = ["LEGACY_FILES", "MIN_SIZE", "LegacyCheckpoint", "ImportSummary", "read_legacy_checkpoint", "infer_config",
           "load_legacy_model", "find_legacy_models", "import_legacy_model", "import_legacy"]

LEGACY_FILES = ("Gs.pth", "Zs.pth", "reals.pth", "NoiseAmp.pth")
MIN_SIZE = 25                      # the original's --min_size: the coarsest scale's short side


# ------------------------------------------------------------------------------------------------ model folders
@dataclass
class LegacyCheckpoint:
    """The four legacy pickles of one model, as plain tensors.

    Attributes:
        path: the model folder.
        generators: one state_dict per scale (coarse → fine), keys as our ``Generator``'s.
        z_opt: per scale ``(1, nc_z, h + 2·pad, w + 2·pad)`` float32 (bool/int64 zeros in the file are cast).
        reals: per scale ``(1, nc_im, h, w)`` float32 in [-1, 1].
        noise_amp: per scale, ``noise_amp[0]`` usually the int 1 in the file.
        generator_class: the pickled class path of the generators.
        z_dtypes: the dtypes of ``Zs`` as stored.
        sha256: file name → sha256 of the file.
    """

    path: Path
    generators: list[dict[str, torch.Tensor]]
    z_opt: list[torch.Tensor]
    reals: list[torch.Tensor]
    noise_amp: list[float]
    generator_class: str
    z_dtypes: list[str] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def num_scales(self) -> int:
        return len(self.generators)


def _module_state_dict(rec: PickledModule, where: Any, prefix: str = "", depth: int = 0) -> dict[str, torch.Tensor]:
    """Walk ``_parameters`` / ``_buffers`` / ``_modules`` of a pickled module into a flat state_dict."""
    if depth > 8:
        raise CheckpointError(f"{where}: module nesting is too deep")
    state = rec.state
    out: dict[str, torch.Tensor] = {}
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        entries = state.get(group) or {}
        if not isinstance(entries, dict):
            raise CheckpointError(f"{where}: {prefix or 'generator'} {group} is a {type(entries).__name__}")
        for name, value in entries.items():
            if value is None or (group == "_buffers" and name in non_persistent):
                continue
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{where}: {prefix}{name} is a {type(value).__name__}, expected a tensor")
            out[f"{prefix}{name}"] = value
    modules = state.get("_modules") or {}
    if not isinstance(modules, dict):
        raise CheckpointError(f"{where}: {prefix or 'generator'} _modules is a {type(modules).__name__}")
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PickledModule):
            raise CheckpointError(f"{where}: sub-module {prefix}{name} is a {type(child).__name__}")
        out.update(_module_state_dict(child, where, f"{prefix}{name}.", depth + 1))
    return out


def _as_list(obj: Any, path: Path, what: str) -> list:
    if not isinstance(obj, list) or not obj:
        raise CheckpointError(f"{path}: expected a non-empty list of {what}, found {type(obj).__name__}"
                              + (" (empty)" if isinstance(obj, list) else ""))
    if len(obj) > MAX_SCALES:
        raise CheckpointError(f"{path}: {len(obj)} scales is more than a SinGAN pyramid has (≤ {MAX_SCALES})")
    return obj


def read_legacy_checkpoint(folder: str | os.PathLike) -> LegacyCheckpoint:
    """Read ``Gs.pth``, ``Zs.pth``, ``reals.pth`` and ``NoiseAmp.pth`` from ``folder`` through the allow-list.

    Raises:
        CheckpointError: missing files, refused globals, corrupt containers, or lists that don't fit together.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: legacy model folder not found")
    missing = [n for n in LEGACY_FILES if not (folder / n).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: missing {', '.join(missing)} (a legacy model folder holds "
                              f"{', '.join(LEGACY_FILES)})")
    loaded, digests = {}, {}
    for name in LEGACY_FILES:
        path = folder / name
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CheckpointError(f"{path}: {size} bytes is too large for a SinGAN checkpoint")
        data = path.read_bytes()
        digests[name] = hashlib.sha256(data).hexdigest()
        loaded[name] = restricted_load(data, where=path)

    gs = _as_list(loaded["Gs.pth"], folder / "Gs.pth", "generators")
    zs = _as_list(loaded["Zs.pth"], folder / "Zs.pth", "noise tensors")
    reals = _as_list(loaded["reals.pth"], folder / "reals.pth", "real tensors")
    amps = _as_list(loaded["NoiseAmp.pth"], folder / "NoiseAmp.pth", "noise amplitudes")
    if not len(gs) == len(zs) == len(reals) == len(amps):
        raise CheckpointError(f"{folder}: Gs has {len(gs)} scales, Zs {len(zs)}, reals {len(reals)}, NoiseAmp "
                              f"{len(amps)}; they must agree")

    generators, classes = [], set()
    for i, g in enumerate(gs):
        if not isinstance(g, PickledModule) or g.qualname not in GENERATOR_CLASSES:
            raise CheckpointError(f"{folder / 'Gs.pth'}: scale {i} is {getattr(g, 'qualname', type(g).__name__)}, "
                                  "not a SinGAN GeneratorConcatSkip2CleanAdd")
        classes.add(g.qualname)
        # Each storage has its own private buffer, so the views need no copy; weights become float32 (an
        # older float64/float16 save would otherwise change the generator's dtype).
        generators.append({k: v.to(torch.float32 if v.is_floating_point() else torch.int64).contiguous()
                           for k, v in _module_state_dict(g, folder / "Gs.pth").items()})

    def tensors(items: list, name: str) -> list[torch.Tensor]:
        for i, t in enumerate(items):
            if not isinstance(t, torch.Tensor):
                raise CheckpointError(f"{folder / name}: entry {i} is a {type(t).__name__}, expected a tensor")
        return list(items)

    z_raw, real_raw = tensors(zs, "Zs.pth"), tensors(reals, "reals.pth")
    noise_amp = []
    for i, a in enumerate(amps):
        if isinstance(a, torch.Tensor) and a.numel() == 1:
            a = a.reshape(()).item()
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not np.isfinite(a):
            raise CheckpointError(f"{folder / 'NoiseAmp.pth'}: entry {i} is {_short(a, 40)}, expected a number")
        noise_amp.append(float(a))
    return LegacyCheckpoint(
        path=folder, generators=generators,
        z_opt=[z.to(torch.float32).contiguous() for z in z_raw],
        reals=[r.to(torch.float32).contiguous() for r in real_raw],
        noise_amp=noise_amp, generator_class=sorted(classes)[0] if len(classes) == 1 else ",".join(sorted(classes)),
        z_dtypes=[str(z.dtype).replace("torch.", "") for z in z_raw], sha256=digests,
    )


def infer_config(ckpt: LegacyCheckpoint, name: str, source: dict[str, Any] | None = None) -> ModelConfig:
    """Recover the hyper-parameters the legacy files don't store.

    nc_im and nfc (per scale) come from the head conv ``(nfc, nc_im, k, k)``, num_layer from the number of body
    blocks + 2, sizes from ``reals``; nc_z = nc_im; the scale factor is the original's
    ``(min_size / min(h, w of the finest real)) ** (1 / (scales - 1))`` with min_size = 25.
    """
    where = ckpt.path
    nfc, shapes = [], set()
    for i, sd in enumerate(ckpt.generators):
        w = sd.get("head.conv.weight")
        if w is None or w.dim() != 4 or w.shape[2] != w.shape[3]:
            raise CheckpointError(f"{where}/Gs.pth: generator {i} has no 4-d square head.conv.weight")
        blocks = {k.split(".")[1] for k in sd if k.startswith("body.")}
        nfc.append(int(w.shape[0]))
        shapes.add((int(w.shape[1]), int(w.shape[2]), len(blocks) + 2))
    if len(shapes) != 1:
        raise CheckpointError(f"{where}/Gs.pth: scales disagree on (nc_im, kernel, layers): {sorted(shapes)}")
    nc_im, ker, num_layer = shapes.pop()
    pad = noise_pad(ker, num_layer)
    sizes = []
    for i, (r, z) in enumerate(zip(ckpt.reals, ckpt.z_opt, strict=True)):
        if r.dim() != 4 or r.shape[0] != 1 or r.shape[1] != nc_im:
            raise CheckpointError(f"{where}/reals.pth: entry {i} has shape {tuple(r.shape)}, "
                                  f"expected (1, {nc_im}, h, w)")
        h, w = int(r.shape[2]), int(r.shape[3])
        want = (1, nc_im, h + 2 * pad, w + 2 * pad)
        if tuple(z.shape) != want:
            raise CheckpointError(f"{where}/Zs.pth: entry {i} has shape {tuple(z.shape)}, expected {want} "
                                  f"(the real size {h}x{w} padded by {pad})")
        sizes.append([h, w])
    for name_, group in (("Zs.pth", ckpt.z_opt), ("reals.pth", ckpt.reals)):
        if not all(torch.isfinite(t).all() for t in group):
            raise CheckpointError(f"{where}/{name_}: holds non-finite values")
    n = len(sizes)
    finest = min(sizes[-1])
    scale_factor = (MIN_SIZE / finest) ** (1.0 / (n - 1)) if n > 1 else 0.75
    return ModelConfig(
        nc_im=nc_im, nc_z=nc_im, ker_size=ker, num_layer=num_layer, nfc=nfc, scale_factor=float(scale_factor),
        sizes=sizes, noise_amp=list(ckpt.noise_amp), faithful_resize=True, num_trained=None, total_scales=None,
        name=name, source=dict(source or {}), train={},
    )


def build_model(ckpt: LegacyCheckpoint, config: ModelConfig, device: torch.device | str = "cpu") -> SinGANSeg:
    """Wrap the tensors in a :class:`SinGANSeg` without copying them.

    The generators are built on the meta device and take the tensors by assignment (``assign=True``), which
    skips the random initialisation and the copy that ``SinGANSeg.from_state_dict`` would do; key and shape
    checks are the same (strict).
    """
    gens = []
    for i, (sd, nfc) in enumerate(zip(ckpt.generators, config.nfc, strict=True)):
        with torch.device("meta"):
            g = Generator(config.nc_im, nfc, config.ker_size, config.num_layer)
        try:
            g.load_state_dict(sd, strict=True, assign=True)
        except RuntimeError as err:
            first = str(err).splitlines()[0] if str(err) else "mismatch"
            raise CheckpointError(f"{ckpt.path / 'Gs.pth'}: generator {i} does not fit a SinGAN generator "
                                  f"(nc_im={config.nc_im}, nfc={nfc}): {first}") from None
        gens.append(g)
    return SinGANSeg(config, gens, ckpt.z_opt, ckpt.reals, device)


def default_model_id(folder: str | os.PathLike) -> str:
    """``.../<id>`` → ``<id>``; ``.../TrainedModels/<id>/scale_factor=...`` → ``<id>``."""
    folder = Path(folder).resolve()
    return folder.parent.name if folder.name.startswith("scale_factor=") else folder.name


def load_legacy_model(folder: str | os.PathLike, name: str | None = None, device: torch.device | str = "cpu",
                      source: dict[str, Any] | None = None) -> SinGANSeg:
    """Read a legacy model folder into a :class:`SinGANSeg` in memory (nothing is written)."""
    ckpt = read_legacy_checkpoint(folder)
    return build_model(ckpt, infer_config(ckpt, name or default_model_id(folder), source), device)


# ------------------------------------------------------------------------------------------------ discovery
@dataclass
class LegacyModelRef:
    """A model folder found under a source path, with its real image/mask if the layout has them."""

    folder: Path
    name: str
    image: Path | None = None
    mask: Path | None = None


def _plain(path: Path) -> bool:
    """True for a file or folder that is not a symbolic link (links could point anywhere on the server)."""
    return not path.is_symlink() and path.exists()


def _find_real(folder: Path, name: str, root: Path) -> tuple[Path | None, Path | None]:
    """``real_images/<id>.*`` + ``real_masks/<id>.*`` (published layout) or ``Input/<id>.png`` (RGBA, the original
    code's layout) in the model folder or up to three folders above it, never above ``root`` (the folder the
    import was given) and never through a symbolic link."""
    chain = [folder, *folder.parents]
    bases = chain[:chain.index(root) + 1] if root in chain else [folder]
    for base in bases[:4]:
        images, masks = base / "real_images", base / "real_masks"
        if _plain(images) and images.is_dir():
            img = next((p for p in sorted(images.glob(f"{glob.escape(name)}.*")) if _plain(p) and p.is_file()), None)
            if img is not None:
                mask = next((p for p in sorted(masks.glob(f"{glob.escape(name)}.*")) if _plain(p) and p.is_file()),
                            None) if _plain(masks) and masks.is_dir() else None
                return img, mask
        rgba = base / "Input" / f"{name}.png"
        if _plain(base / "Input") and _plain(rgba) and rgba.is_file():
            return rgba, None
    return None, None


def find_legacy_models(src: str | os.PathLike) -> list[LegacyModelRef]:
    """Every legacy model folder at or under ``src`` (any folder holding one of the four ``.pth`` files), sorted.

    Raises:
        InputError: ``src`` does not exist.
    """
    root = Path(src)
    if not root.exists():
        raise InputError(f"{root}: not found")
    if not root.is_dir():
        raise InputError(f"{root}: give a legacy model folder (with {', '.join(LEGACY_FILES)}) or a folder of them")
    root = root.resolve()
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):  # os.walk does not follow symlinked folders
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if any(n in filenames for n in LEGACY_FILES):
            found.append(Path(dirpath))
            dirnames[:] = []  # per-scale sub-folders (0/, 1/, ...) are not models
    refs = []
    for folder in found:
        name = default_model_id(folder)
        image, mask = _find_real(folder, name, root)
        refs.append(LegacyModelRef(folder, name, image, mask))
    return sorted(refs, key=lambda r: (_natural_key(r.name), str(r.folder)))


def _natural_key(text: str) -> list:
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


# ------------------------------------------------------------------------------------------------ import
def import_legacy_model(folder: str | os.PathLike, dest: str | os.PathLike, name: str | None = None,
                        image: str | os.PathLike | None = None, mask: str | os.PathLike | None = None,
                        overwrite: bool = False) -> tuple[Path, list[str]]:
    """Import one legacy model folder into the checkpoint folder ``dest`` (written atomically).

    Args:
        image, mask: the real training image (and mask) to keep as ``real.png`` / ``real_mask.png``; an RGBA
            image carries its mask in alpha. Without them, the finest real scale is kept.
    Returns:
        ``(dest, notes)``; notes explain fall-backs (e.g. an unreadable real image).
    Raises:
        CheckpointError: refused or broken legacy files. ``FileExistsError``: ``dest`` exists and not overwrite.
    """
    from ..files.pairs import load_pair  # local: data pulls PIL helpers only needed here

    folder, dest = Path(folder), Path(dest)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} already exists (use overwrite to replace it)")
    notes: list[str] = []
    ckpt = read_legacy_checkpoint(folder)
    pair = None
    if image is not None:
        try:
            pair = load_pair(image, mask, name=name)
            notes.extend(pair.notes)
        except InputError as err:
            notes.append(f"real image not used ({err}); keeping the finest real scale instead")
    finest = tensor_to_uint8(ckpt.reals[-1])[0]
    if pair is not None:
        content_hash, input_size = pair.content_hash(), list(pair.size)
    else:
        stacked = np.ascontiguousarray(finest)
        content_hash = hashlib.sha256(str(stacked.shape).encode() + stacked.tobytes()).hexdigest()
        input_size = list(finest.shape[:2])
    source = {
        "origin": "legacy", "legacy_path": folder.name,  # a name: no server path is stored "legacy_class": ckpt.generator_class,
        "legacy_sha256": ckpt.sha256, "legacy_z_dtypes": ckpt.z_dtypes,
        "image": Path(pair.image_path).name if pair and pair.image_path else None,
        "mask": Path(pair.mask_path).name if pair and pair.mask_path else None,
        "input_size": input_size, "content_hash": content_hash,
        "content_hash_of": "real_image" if pair is not None else "finest_real_scale",
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    cfg = infer_config(ckpt, name or default_model_id(folder), source)
    model = build_model(ckpt, cfg)
    with atomic_directory(dest, overwrite=overwrite) as tmp:
        model.save_pretrained(tmp, real_image=pair.image if pair is not None else None,
                              real_mask=pair.mask if pair is not None and cfg.nc_im >= 4 else None)
    return dest, notes


@dataclass
class ImportSummary:
    """Outcome of :func:`import_legacy`: names imported, and ``(name, reason)`` for skipped / refused ones."""

    dest: Path
    imported: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.imported) + len(self.skipped) + len(self.refused)

    def lines(self) -> list[str]:
        """Human-readable summary, one line per skipped/refused model."""
        out = [f"imported {len(self.imported)}, skipped {len(self.skipped)}, refused {len(self.refused)} "
               f"into {self.dest} ({self.seconds:.1f} s)"]
        out += [f"  skipped {n}: {why}" for n, why in self.skipped]
        out += [f"  refused {n}: {why}" for n, why in self.refused]
        out += [f"  note: {n}" for n in self.notes]
        return out


def import_legacy(src: str | os.PathLike, dest: str | os.PathLike, overwrite: bool = False,
                  name: str | None = None,
                  progress: Callable[[int, int, str], bool | None] | None = None) -> ImportSummary:
    """Import every legacy model at or under ``src`` into ``dest/<id>/`` (one checkpoint folder each).

    ``src`` may be one model folder (``Gs.pth``, ``Zs.pth``, ``reals.pth``, ``NoiseAmp.pth``), a
    ``TrainedModels/<id>/scale_factor=...`` tree, or a root in the published layout
    (``TrainedModels_{1..4}_clean/<id>/`` + ``real_images/<id>.jpg`` + ``real_masks/<id>.*``).
    Models whose ``dest/<id>/config.json`` exists are skipped (unless ``overwrite``); a model that can't be read
    is refused with the reason and the others go on; nothing half-written is left in ``dest``.

    Args:
        name: the id for a single model (default: its folder name).
        progress: ``progress(done, total, name)`` after each model; return ``False`` to cancel.
    Raises:
        InputError: ``src`` missing or holding no legacy model. Cancelled: the callback returned False.
    """
    import time

    t0 = time.perf_counter()
    refs = find_legacy_models(src)
    if not refs:
        raise InputError(f"{src}: no legacy model found (looked for folders holding {', '.join(LEGACY_FILES)})")
    if name is not None:
        if len(refs) != 1:
            raise InputError(f"--name only applies to a single model; {src} holds {len(refs)}")
        refs[0].name = name
    dest = Path(dest)
    summary = ImportSummary(dest=dest)
    seen: dict[str, Path] = {}
    if progress is not None and progress(0, len(refs), "") is False:
        raise Cancelled("import cancelled before it started")
    for i, ref in enumerate(refs):
        target = dest / ref.name
        if ref.name in seen:
            summary.skipped.append((ref.name, f"duplicate id: {ref.folder} (already taken by {seen[ref.name]})"))
        elif not _safe_name(ref.name):
            summary.refused.append((ref.name, f"{ref.folder}: unusable model id {ref.name!r}"))
        elif target.exists() and not overwrite:
            why = "already imported" if (target / CONFIG_NAME).is_file() else f"{target} exists"
            summary.skipped.append((ref.name, why))
        else:
            try:
                _, notes = import_legacy_model(ref.folder, target, ref.name, ref.image, ref.mask, overwrite)
                summary.imported.append(ref.name)
                summary.notes.extend(f"{ref.name}: {n}" for n in notes)
            except (CheckpointError, InputError) as err:
                summary.refused.append((ref.name, str(err)))
            except (Exception, RecursionError, MemoryError) as err:  # noqa: BLE001 - one hostile model never ends the batch
                summary.refused.append((ref.name, f"{ref.folder}: unreadable ({type(err).__name__}: "
                                                  f"{_short(str(err), 120)})"))
        seen.setdefault(ref.name, ref.folder)
        if progress is not None and progress(i + 1, len(refs), ref.name) is False:
            summary.seconds = time.perf_counter() - t0
            raise Cancelled(f"import cancelled after {i + 1} of {len(refs)} models "
                            f"({len(summary.imported)} imported)")
    summary.seconds = time.perf_counter() - t0
    return summary


def _safe_name(name: str) -> bool:
    """The model-name rule (``model.config.name_problem``): the id becomes the folder and the sample names."""
    from ..model.config import name_problem

    return name_problem(name) is None
