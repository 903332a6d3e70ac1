"""Importing the authors' legacy checkpoints: equivalence with their own generator, and hostile input.

The fixture ``shared/fixtures/legacy_checkpoint_a`` was trained with the authors' package; its ``reference.npz``
holds what *their* code generates from it (see its FIXTURE.md).
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from singanseg_core import cli
from singanseg_core.errors import Cancelled, CheckpointError, InputError
from singanseg_core.legacy.importer import (
    find_legacy_models,
    import_legacy,
    import_legacy_model,
    load_legacy_model,
    read_legacy_checkpoint,
)
from singanseg_core.legacy.unpickler import PickledModule, RefusedGlobalError, restricted_load
from singanseg_core.model import SinGANSeg
from singanseg_core.networks.singan import ConvBlock, Generator

from tests.helpers import FIXTURE_A as FIXTURE
from tests.helpers import LEGACY_FILES as FILES
from tests.helpers import LEGACY_MODEL_DIR as MODEL_DIR
from tests.helpers import needs_shared

pytestmark = needs_shared  # the authors' checkpoint fixture



@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE / "reference.npz") as ref:
        return {k: ref[k] for k in ref.files}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("imported")
    summary = import_legacy(FIXTURE, dest)
    assert summary.imported == ["coffee"] and not summary.refused and not summary.skipped
    return dest / "coffee"


def _copy_model(dst: Path, files: tuple[str, ...] = FILES) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copyfile(MODEL_DIR / name, dst / name)
    return dst


def _leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


# ------------------------------------------------------------------------------------------------ reading
def test_restricted_reader_sees_the_pickled_structure() -> None:
    gs = restricted_load(MODEL_DIR / "Gs.pth")
    assert len(gs) == 5 and all(isinstance(g, PickledModule) for g in gs)
    assert gs[0].qualname == "singan_seg_polyp.SinGAN.models.GeneratorConcatSkip2CleanAdd"
    assert gs[0].state["_modules"]["head"].qualname == "singan_seg_polyp.SinGAN.models.ConvBlock"
    zs = restricted_load(MODEL_DIR / "Zs.pth")
    assert [z.dtype for z in zs] == [torch.float32] + [torch.bool] * 4
    amps = restricted_load(MODEL_DIR / "NoiseAmp.pth")
    assert amps[0] == 1 and type(amps[0]) is int and amps[1].shape == ()

    ckpt = read_legacy_checkpoint(MODEL_DIR)
    # The weights equal the per-scale state_dicts the original also saved (those load with weights_only=True).
    for i in (0, 4):
        netG = torch.load(MODEL_DIR / str(i) / "netG.pth", map_location="cpu", weights_only=True)
        assert set(netG) == set(ckpt.generators[i])
        for key, value in netG.items():
            assert torch.equal(ckpt.generators[i][key], value), key
    assert all(z.dtype == torch.float32 for z in ckpt.z_opt)
    assert ckpt.z_dtypes == ["float32", "bool", "bool", "bool", "bool"]


def test_hyperparameters_come_from_the_tensors(imported: Path, reference: dict) -> None:
    model = SinGANSeg.from_pretrained(imported)
    cfg = model.config
    assert (cfg.nc_im, cfg.nc_z, cfg.ker_size, cfg.num_layer) == (4, 4, 3, 5)
    assert cfg.nfc == [32, 32, 32, 32, 64]
    assert cfg.sizes == [[26, 26], [32, 32], [41, 41], [51, 51], [64, 64]]
    assert cfg.num_scales == int(reference["scales"])
    assert cfg.scale_factor == pytest.approx(float(reference["scale_factor"]), abs=1e-6)
    assert cfg.noise_amp[0] == 1.0 and cfg.noise_amp[1] == pytest.approx(0.0471254, abs=1e-6)
    assert cfg.source["origin"] == "legacy" and cfg.source["legacy_path"].endswith("alpha=10")
    assert "/" not in cfg.source["legacy_path"]  # a name, never the server path it was imported from
    # The original layout's Input/<id>.png (RGBA, alpha = mask) is kept as the real image and mask.
    rgba = np.asarray(Image.open(FIXTURE / "Input" / "coffee.png").convert("RGBA"))
    assert np.array_equal(np.asarray(model.real_image()), rgba[..., :3])
    assert np.array_equal(np.asarray(model.real_mask()), np.where(rgba[..., 3] > 127, 255, 0))


# ------------------------------------------------------------------------------------------------ equivalence
def test_reconstruction_matches_the_authors_code(imported: Path, reference: dict) -> None:
    """All scales on the stored noise (gen_start_scale = 5) vs ``recon`` from the authors' generator.

    Tolerance: at most 1 grey level (1/255 of the [0, 1] range) anywhere and mask IoU ≥ 0.99. Our imresize
    reproduces the original's uint8 round trip, so on CPU the match is in fact exact (0 levels, IoU 1).
    """
    ours = SinGANSeg.from_pretrained(imported).reconstruct()[0].numpy()
    ref = reference["recon"]
    assert ours.shape == ref.shape == (4, 64, 64)
    levels = np.abs(ours - ref) * 127.5  # [-1, 1] → grey levels of 1/255
    assert levels.max() <= 1.0, f"max diff {levels.max():.3f} levels"
    ours_mask, ref_mask = ours[3] > 0, ref[3] > 0  # mask channel > 0.5 after mapping to [0, 1]
    assert ref_mask.sum() > 0
    iou = (ours_mask & ref_mask).sum() / (ours_mask | ref_mask).sum()
    assert iou >= 0.99, f"mask IoU {iou:.4f}"


@pytest.mark.slow
def test_random_masks_fall_in_the_reference_band(imported: Path, reference: dict) -> None:
    """Mean true-pixel % of 200 seeded samples (gen_start_scale 0) lies in the reference's 95 % band.

    The band is the 95 % confidence interval of the reference mean: ``mean ± 1.96 · sd / √200`` over the
    authors' 200 samples (≈ 8.00 ± 0.51 %; ours with seed 0: 8.00 %). A sampler with another mask
    distribution lands outside it: thresholding the mask at 0.4 or 0.6 instead of 0.5 gives 9.8 % / 6.3 %, a
    scale factor of 0.75 instead of the recovered 0.7906 gives 9.7 %. The pixel-wise mean masks must also agree
    in shape (correlation > 0.8; seeds 1 and 2 give ≈ 0.94-0.95).
    """
    true_pct = reference["true_pct"].astype(np.float64)
    n = len(true_pct)
    assert n == 200
    half = 1.96 * true_pct.std(ddof=1) / np.sqrt(n)
    low, high = true_pct.mean() - half, true_pct.mean() + half

    samples = SinGANSeg.from_pretrained(imported).sample(n, gen_start_scale=0, seed=0, batch_size=n)
    ours = samples.true_pixel_pct.mean()
    assert low <= ours <= high, f"our mean {ours:.3f} % outside [{low:.3f}, {high:.3f}]"
    mean_mask = (samples.masks > 0).mean(axis=0)
    corr = np.corrcoef(mean_mask.ravel(), reference["mean_mask"].ravel())[0, 1]
    assert corr > 0.8, f"mean-mask correlation {corr:.3f}"


# ------------------------------------------------------------------------------------------------ layouts
def test_published_layout_bulk_import_skip_and_refuse(tmp_path: Path) -> None:
    root = tmp_path / "published"
    _copy_model(root / "TrainedModels_1_clean" / "cju0qkwl35piu0993l0dewei2")
    _copy_model(root / "TrainedModels_2_clean" / "ck2bxiswtxuw80838qkisqjwz")
    _copy_model(root / "TrainedModels_2_clean" / "broken", files=("Gs.pth", "reals.pth", "NoiseAmp.pth"))
    (root / "real_images").mkdir()
    (root / "real_masks").mkdir()
    rgba = Image.open(FIXTURE / "Input" / "coffee.png")
    rgba.convert("RGB").save(root / "real_images" / "cju0qkwl35piu0993l0dewei2.jpg", quality=95)
    rgba.getchannel("A").save(root / "real_masks" / "cju0qkwl35piu0993l0dewei2.jpg", quality=95)

    refs = find_legacy_models(root)
    assert [r.name for r in refs] == ["broken", "cju0qkwl35piu0993l0dewei2", "ck2bxiswtxuw80838qkisqjwz"]
    assert refs[1].image is not None and refs[1].image.name.endswith(".jpg") and refs[1].mask is not None
    assert refs[2].image is None

    calls: list[tuple[int, int, str]] = []
    dest = tmp_path / "models"
    summary = import_legacy(root, dest, progress=lambda d, t, n: calls.append((d, t, n)) or True)
    assert summary.imported == ["cju0qkwl35piu0993l0dewei2", "ck2bxiswtxuw80838qkisqjwz"]
    assert [n for n, _ in summary.refused] == ["broken"] and "missing Zs.pth" in summary.refused[0][1]
    assert calls[0] == (0, 3, "") and calls[-1][:2] == (3, 3)
    assert _leftovers(dest) == ["cju0qkwl35piu0993l0dewei2", "ck2bxiswtxuw80838qkisqjwz"]
    with_real = SinGANSeg.from_pretrained(dest / "cju0qkwl35piu0993l0dewei2")
    assert with_real.config.source["image"].endswith(".jpg") and with_real.real_image().size == (128, 128)
    mask = np.asarray(with_real.real_mask())
    assert set(np.unique(mask)) <= {0, 255}  # the JPEG mask is binarised
    without = SinGANSeg.from_pretrained(dest / "ck2bxiswtxuw80838qkisqjwz")
    assert without.real_image().size == (64, 64) and without.config.source["content_hash_of"] == "finest_real_scale"

    again = import_legacy(root, dest)
    assert again.imported == [] and [n for n, _ in again.skipped] == summary.imported
    assert all(why == "already imported" for _, why in again.skipped)

    with pytest.raises(Cancelled):  # cancelled after the second model: the third is never written
        import_legacy(root, tmp_path / "cancelled", progress=lambda d, t, n: d < 2)
    assert _leftovers(tmp_path / "cancelled") == ["cju0qkwl35piu0993l0dewei2"]


def _install_fake_singan(monkeypatch: pytest.MonkeyPatch) -> tuple[type, type]:
    """Classes named ``SinGAN.models.*`` with the original's structure, so torch.save writes those names."""
    pkg, mod = types.ModuleType("SinGAN"), types.ModuleType("SinGAN.models")
    block = type("ConvBlock", (ConvBlock,), {"__module__": "SinGAN.models"})
    gen = type("GeneratorConcatSkip2CleanAdd", (Generator,), {"__module__": "SinGAN.models"})
    mod.ConvBlock, mod.GeneratorConcatSkip2CleanAdd, pkg.models = block, gen, mod
    monkeypatch.setitem(sys.modules, "SinGAN", pkg)
    monkeypatch.setitem(sys.modules, "SinGAN.models", mod)
    return block, gen


@pytest.mark.filterwarnings("ignore:Couldn't retrieve source code")
def test_legacy_container_and_upstream_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-1.6 (non-zip) torch file naming ``SinGAN.models.*``, with int64 zero noise as upstream on torch ≥ 1.7."""
    block_cls, gen_cls = _install_fake_singan(monkeypatch)
    base = load_legacy_model(MODEL_DIR)
    gens = []
    for g, nfc in zip(base.generators, base.config.nfc, strict=True):
        clone = gen_cls(4, nfc)
        clone.load_state_dict(g.state_dict())
        for m in clone.modules():
            if type(m) is ConvBlock:
                m.__class__ = block_cls
        gens.append(clone.eval())
    zs = [base.z_opt[0]] + [torch.zeros_like(z, dtype=torch.int64) for z in base.z_opt[1:]]
    amps = [1] + [torch.tensor(a) for a in base.config.noise_amp[1:]]
    folder = tmp_path / "TrainedModels" / "coffee" / "scale_factor=0.750000,alpha=10"
    folder.mkdir(parents=True)
    for name, obj in (("Gs.pth", gens), ("Zs.pth", zs), ("reals.pth", base.reals), ("NoiseAmp.pth", amps)):
        torch.save(obj, folder / name, _use_new_zipfile_serialization=False)
    raw = (folder / "Gs.pth").read_bytes()
    assert not zipfile.is_zipfile(folder / "Gs.pth") and b"SinGAN.models" in raw

    model = load_legacy_model(folder)
    assert model.name == "coffee" and model.config.nfc == base.config.nfc
    state, base_state = model.state_dict(), base.state_dict()
    assert state.keys() == base_state.keys()
    assert all(torch.equal(state[k], base_state[k]) for k in state)
    assert torch.equal(model.reconstruct(), base.reconstruct())


# ------------------------------------------------------------------------------------------------ hostile input
class _RunsCode:
    """Unpickling this calls ``func(*args)``: what a hostile checkpoint does."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("payload", ["os.system", "builtins.open"])
def test_code_running_pickle_is_refused_and_never_runs(tmp_path: Path, payload: str) -> None:
    def hostile(marker: Path) -> _RunsCode:
        if payload == "os.system":
            return _RunsCode(os.system, f"touch '{marker}'")
        return _RunsCode(open, str(marker), "w")

    # Control: the payload is live, plain unpickling creates its marker.
    control = tmp_path / "control-marker"
    obj = pickle.loads(pickle.dumps([hostile(control)], protocol=2))
    if hasattr(obj[0], "close"):
        obj[0].close()
    assert control.exists()

    marker = tmp_path / "marker"
    model = _copy_model(tmp_path / "src" / "evil")
    buf = io.BytesIO()
    torch.save([hostile(marker)], buf)
    (model / "Gs.pth").write_bytes(buf.getvalue())

    with pytest.raises(RefusedGlobalError) as err:
        restricted_load(model / "Gs.pth")
    expected = {"os.system": ("posix.system", "os.system"), "builtins.open": ("io.open", "builtins.open")}[payload]
    assert err.value.global_name in expected and err.value.global_name in str(err.value)

    dest = tmp_path / "dest"
    summary = import_legacy(tmp_path / "src", dest)
    assert summary.imported == [] and summary.refused[0][0] == "evil"
    assert "not on the allow-list" in summary.refused[0][1]
    assert not marker.exists()
    assert _leftovers(dest) == []


def test_global_outside_the_allow_list_is_named(tmp_path: Path) -> None:
    model = _copy_model(tmp_path / "m")
    torch.save([torch.nn.Linear(2, 2)], model / "Gs.pth")
    with pytest.raises(RefusedGlobalError, match=r"torch\.nn\.modules\.linear\.Linear"):
        read_legacy_checkpoint(model)
    # A plain tensor list (allowed) in place of generators is a clear error too.
    torch.save([torch.zeros(2)] * 5, model / "Gs.pth")
    with pytest.raises(CheckpointError, match="not a SinGAN GeneratorConcatSkip2CleanAdd"):
        read_legacy_checkpoint(model)


def test_corrupt_files_wrong_shapes_and_missing_files(tmp_path: Path) -> None:
    dest = tmp_path / "dest"

    truncated = _copy_model(tmp_path / "truncated")
    data = (MODEL_DIR / "Gs.pth").read_bytes()
    (truncated / "Gs.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        import_legacy_model(truncated, dest / "x")

    flipped = _copy_model(tmp_path / "flipped")
    raw = bytearray((MODEL_DIR / "reals.pth").read_bytes())
    at = raw.index(b"reals/data/4") + 200  # inside the stored bytes of the finest real
    raw[at] ^= 0xFF
    (flipped / "reals.pth").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="reals.pth"):
        import_legacy_model(flipped, dest / "x")

    garbage = _copy_model(tmp_path / "garbage")
    (garbage / "NoiseAmp.pth").write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        import_legacy_model(garbage, dest / "x")

    shapes = _copy_model(tmp_path / "shapes")
    zs = restricted_load(MODEL_DIR / "Zs.pth")
    zs[2] = torch.zeros(1, 4, 50, 51)
    torch.save(zs, shapes / "Zs.pth")
    with pytest.raises(CheckpointError, match=r"Zs.pth: entry 2 has shape \(1, 4, 50, 51\)"):
        import_legacy_model(shapes, dest / "x")

    short = _copy_model(tmp_path / "short")
    torch.save(restricted_load(MODEL_DIR / "reals.pth")[:4], short / "reals.pth")
    with pytest.raises(CheckpointError, match="Gs has 5 scales, Zs 5, reals 4"):
        import_legacy_model(short, dest / "x")

    missing = _copy_model(tmp_path / "missing", files=("Gs.pth", "Zs.pth"))
    with pytest.raises(CheckpointError, match="missing reals.pth, NoiseAmp.pth"):
        import_legacy_model(missing, dest / "x")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no legacy model found"):
        import_legacy(empty, dest)
    assert _leftovers(dest) == []  # nothing half-written, not even a temporary folder


def test_cli_import_legacy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dest = tmp_path / "models"
    assert cli.main(["import-legacy", str(MODEL_DIR), str(dest), "--name", "espresso", "--quiet"]) == 0
    assert "imported 1, skipped 0, refused 0" in capsys.readouterr().out
    assert (dest / "espresso" / "model.safetensors").is_file()
    assert cli.main(["import-legacy", str(MODEL_DIR), str(dest), "--name", "espresso", "--quiet"]) == 0
    assert "skipped espresso: already imported" in capsys.readouterr().out
    evil = _copy_model(tmp_path / "evil")
    torch.save([torch.nn.Linear(2, 2)], evil / "Gs.pth")
    assert cli.main(["import-legacy", str(evil), str(dest), "--quiet"]) == 1
    assert "refused evil" in capsys.readouterr().out
    assert cli.main(["import-legacy", str(tmp_path / "nope"), str(dest)]) == 1
    assert "not found" in capsys.readouterr().err


def test_resource_limits_and_truncated_legacy_stream() -> None:
    # A stride-0 view claims 10^10 elements from a 1-element storage: refused before anything is allocated.
    buf = io.BytesIO()
    torch.save([torch.zeros(1).expand(100_000, 100_000)], buf)
    with pytest.raises(CheckpointError, match="more than .* elements"):
        restricted_load(buf.getvalue())
    # A legitimately expanded tensor (as SinGAN's noise) is fine.
    expanded = torch.randn(1, 1, 3, 3).expand(1, 4, 3, 3)
    buf = io.BytesIO()
    torch.save([expanded], buf)
    assert torch.equal(restricted_load(buf.getvalue())[0], expanded)

    buf = io.BytesIO()
    torch.save([torch.randn(100)], buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    assert torch.equal(restricted_load(data)[0], torch.load(io.BytesIO(data), weights_only=True)[0])
    for cut, message in ((10, "unreadable pickle"), (len(data) // 2, "more bytes than the file holds"),
                         (len(data) - 5, "truncated file")):
        with pytest.raises(CheckpointError, match=message):
            restricted_load(data[:cut])


def test_cuda_tagged_storages_load_on_cpu(tmp_path: Path) -> None:
    """The published models were saved from the GPU: their storages carry the location 'cuda:0'."""
    src = zipfile.ZipFile(MODEL_DIR / "Zs.pth")
    out = tmp_path / "Zs.pth"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            dst.writestr(info.filename, data)
    assert b"cuda:0" in zipfile.ZipFile(out).read("Zs/data.pkl")
    cuda_tagged, plain = restricted_load(out), restricted_load(MODEL_DIR / "Zs.pth")
    assert all(a.device.type == "cpu" and torch.equal(a, b) for a, b in zip(cuda_tagged, plain, strict=True))
