#!/usr/bin/env python
"""Regenerate ``tests/golden/data``: reference numbers produced by the authors' own code.

The original is PyPI ``singan-seg-polyp==1.0.7`` (its ``singan_seg_polyp.SinGAN`` training / sampling code
and ``singan_seg_polyp.style_transfer``). This script imports and runs it; it never copies it. What it
records is captured by wrapping the original's module attributes (``functions.generate_noise``,
``functions.calc_gradient_penalty``, ``training.draw_concat``, ``training.train_single_scale``, the Adam /
MultiStepLR classes its ``training`` module sees, forward hooks on its networks, ...) while the original
code runs unchanged. All inputs are procedural (numpy, seeded) and written next to the data.

When the package (or one of the few modules it imports that the project's environment lacks: matplotlib,
scikit-learn) is not importable, the script installs it with ``pip install --no-deps --target <tmpdir>``
into a temporary folder (or ``--ref-dir``), never into the environment itself.

Usage (from the repository root, CPU, ~1 minute)::

    python tests/golden/make_golden.py [--out tests/golden/data] [--ref-dir /tmp/singan_ref]

See ``tests/golden/README.md`` for what each file holds.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data"
REF_PACKAGE = "singan-seg-polyp"
REF_VERSION = "1.0.7"

# module the original imports -> the --no-deps requirements that provide it (pinned: what the data was made with)
REF_REQUIREMENTS: dict[str, list[str]] = {
    "singan_seg_polyp": [f"{REF_PACKAGE}=={REF_VERSION}"],
    "matplotlib": ["matplotlib==3.11.2", "contourpy==1.3.3", "cycler==0.12.1", "fonttools==4.68.0",
                   "kiwisolver==1.5.1", "pyparsing==3.3.3"],
    "sklearn": ["scikit-learn==1.9.1", "joblib==1.6.0", "threadpoolctl==3.8.0", "cloudpickle==3.1.3"],
}

# ---------------------------------------------------------------------------------------- settings
TRAIN_SEED = 2          # --manualSeed of the training run (the original's post_config seeds torch with it)
SAMPLE_SEED = 11        # torch.manual_seed before every SinGAN_generate_clean call
VGG_SEED = 1234         # torch.manual_seed right before torchvision.models.vgg19(weights=None)
IMAGE_SEED = 20240      # numpy seed of the procedural images

# 35x42 RGBA input, max_size 24 -> resized to 20x24 (scale1 = 4/7), min_size 11 -> 5 scales of 11x14 .. 20x24
# (11 px is the least a 5-layer critic without padding accepts). nfc 4 instead of the default 32 keeps the
# recorded states small: the per-scale rule min(nfc * 2**(n // 4), 128) still changes nfc at scale 4 (4 -> 8,
# fresh init) and makes scales 1-3 inherit the previous scale's G and D. At nfc 32/64 the states alone
# (entry, exit, two Adam moments, G and D) would be ~8 MB.
TRAIN_INPUT_HW = (35, 42)
TRAIN_ARGS = ["--not_cuda", "--nc_im", "4", "--nc_z", "4", "--max_size", "24", "--min_size", "11",
              "--niter", "3", "--nfc", "4", "--min_nfc", "4", "--manualSeed", str(TRAIN_SEED)]
NUM_SAMPLES = 3
# Sampling uses a second run of their train() with the same input and options but niter 20: after 3 epochs per
# scale the generators' BatchNorm running statistics are still mostly their initial values, and in eval mode the
# output moves by < 1 grey level when the scale-0 noise changes, so start scales 0 and 1 would give the same
# samples and a test could not tell them apart. After 20 epochs consecutive start scales differ by 15-230 levels.
SAMPLING_NITER = 20

STYLE_CONTENT_HW = (48, 64)
STYLE_STYLE_HW = (40, 56)
STYLE_STEPS = 5
STYLE_RATIOS = [(1, 1), (1, 1000)]

# (H, W, max_size, min_size) for the scale schedule; (300, 25) makes the original divide by zero.
SCHEDULE_CASES = [
    (529, 622, 250, 25), (1080, 1350, 250, 25), (1350, 1080, 250, 25), (128, 128, 64, 25), (300, 25, 250, 25),
    (26, 40, 250, 25), (250, 250, 250, 25), (600, 400, 128, 25), (331, 517, 250, 25), (240, 1000, 250, 25),
    (25, 25, 250, 25), (257, 255, 250, 25), (720, 576, 250, 25), (35, 42, 24, 11),
]
NFC_CASE = (200, 200, 200, 5)   # 15 scales: nfc 32 x4, 64 x4, then capped at 128


# ---------------------------------------------------------------------------------------- the original
def _missing_modules() -> list[str]:
    return [m for m in REF_REQUIREMENTS if importlib.util.find_spec(m) is None]


def ensure_reference(ref_dir: str | None, stack: contextlib.ExitStack) -> str:
    """Make the original importable (installing it into a temporary folder if needed); returns where from."""
    if ref_dir:
        Path(ref_dir).mkdir(parents=True, exist_ok=True)
        sys.path.append(str(Path(ref_dir).resolve()))
        importlib.invalidate_caches()
    missing = _missing_modules()
    if missing:
        target = ref_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="singan_ref_"))
        reqs = [r for m in missing for r in REF_REQUIREMENTS[m]]
        print(f"installing into {target}: {' '.join(reqs)}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--target", target, *reqs], check=True)
        if str(Path(target).resolve()) not in sys.path:
            sys.path.append(str(Path(target).resolve()))
        importlib.invalidate_caches()
        still = _missing_modules()
        if still:
            raise SystemExit(f"could not import {still} after installing into {target}")
    version = importlib.metadata.version(REF_PACKAGE)
    if version != REF_VERSION:
        raise SystemExit(f"{REF_PACKAGE} {version} is importable, this script records {REF_VERSION}")
    import matplotlib
    matplotlib.use("Agg")
    import singan_seg_polyp
    return str(Path(singan_seg_polyp.__file__).parent)


class Patch:
    """Set attributes for the duration of a ``with`` block and restore them afterwards."""

    def __init__(self, *triples: tuple[Any, str, Any]) -> None:
        self.triples = triples
        self.saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> "Patch":
        for obj, name, value in self.triples:
            self.saved.append((obj, name, getattr(obj, name)))
            setattr(obj, name, value)
        return self

    def __exit__(self, *exc: Any) -> None:
        for obj, name, value in reversed(self.saved):
            setattr(obj, name, value)


def quiet(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run the original with its prints (``print(netG)``, progress lines) swallowed."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


def their_opt(config: types.ModuleType, functions: types.ModuleType, args: list[str], input_path: Path):
    """Their option namespace, built like their ``main_train.py``: get_arguments + input/mode + post_config."""
    parser = config.get_arguments()
    parser.add_argument("--input_dir", default="")
    parser.add_argument("--input_name", default="")
    parser.add_argument("--mode", default="train")
    opt = parser.parse_args(args + ["--input_dir", str(input_path.parent), "--input_name", input_path.name])
    return functions.post_config(opt)  # seeds torch and random with --manualSeed


# ---------------------------------------------------------------------------------------- inputs
def _smooth(rng: np.random.Generator, h: int, w: int, cells: int = 4) -> np.ndarray:
    small = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))


def make_train_input(rng: np.random.Generator) -> np.ndarray:
    """``(35, 42, 4)`` uint8: a smooth colour field with texture, alpha = an elliptical 0/255 mask."""
    h, w = TRAIN_INPUT_HW
    rgb = _smooth(rng, h, w).astype(np.int16) + rng.integers(-24, 25, (h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w]
    rgb[..., 0] += (40 * np.sin(xx / 3.0)).astype(np.int16)
    mask = ((yy - 16) / 9.0) ** 2 + ((xx - 23) / 12.0) ** 2 <= 1.0
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    return np.dstack([rgb, np.where(mask, 255, 0).astype(np.uint8)])


def make_style_images(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Content: smooth colours (48x64). Style: diagonal stripes with noise (40x56)."""
    content = _smooth(rng, *STYLE_CONTENT_HW)
    h, w = STYLE_STYLE_HW
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = (np.sin((xx + yy) / 2.0)[..., None] * np.array([90, 40, -60]) + np.array([120, 110, 140]))
    style = np.clip(stripes + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    return content, style


# ---------------------------------------------------------------------------------------- helpers
def clone_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}


def states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """sha256 over ``key`` + raw little-endian bytes of each tensor, in state_dict order."""
    h = hashlib.sha256()
    for k, v in state.items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class Tensors(dict):
    """Key -> tensor, refusing to overwrite (every key is recorded exactly once)."""

    def put(self, key: str, value: torch.Tensor) -> None:
        assert key not in self, f"{key} recorded twice"
        self[key] = value.detach().clone().contiguous()


# ---------------------------------------------------------------------------------------- (a) training
def record_training(mods: types.SimpleNamespace, input_path: Path) -> tuple[Tensors, dict, tuple]:
    """Run their ``training.train`` once, recording every scale (see README: training.*)."""
    functions, training, config = mods.functions, mods.training, mods.config
    T = Tensors()
    scales: list[dict] = []
    st: dict[str, Any] = {}

    orig_noise, orig_gp = functions.generate_noise, functions.calc_gradient_penalty
    orig_dc, orig_tss = training.draw_concat, training.train_single_scale
    orig_msl = torch.optim.lr_scheduler.MultiStepLR

    def record(key: str, value: torch.Tensor) -> None:
        T.put(key, value)
        st["order"].append(key)

    def new_epoch() -> int:
        st["epoch"] += 1
        st.update(dc=0, gp=0, d_calls=0, g_calls=0)
        st["losses"].append({"errD_real": [], "errD_fake": [], "gradient_penalty": [], "errG": None,
                             "rec_loss": None, "D_forwards": 0, "G_forwards": 0})
        return st["epoch"]

    def generate_noise(size, *args, **kwargs):
        out = orig_noise(size, *args, **kwargs)
        n = st["n"]
        if st["in_rand"] is not None:                      # inside draw_concat(..., 'rand'): lower scale i
            record(f"s{n}.e{st['epoch']}.d{st['in_rand']}.prev{st['i']}", out)
            st["i"] += 1
        elif st["phase"] == "setup":                       # `fixed_noise`: drawn once, only its shape is used
            st["phase"] = "epochs"                         # (not stored: listed in draw_order with its shape)
            st["order"].append(f"s{n}.fixed_noise")
            st["fixed_noise_shape"] = list(out.shape)
        elif n == 0 and st["expect"] == "noise":           # scale 0: z_opt then noise_ every epoch
            record(f"s{n}.e{st['epoch']}.noise", out)
            st["expect"] = "z_opt"
        else:
            e = new_epoch()
            if n == 0:
                record(f"s{n}.e{e}.z_opt", out)
                st["expect"] = "noise"
            else:
                record(f"s{n}.e{e}.noise", out)
        return out

    def calc_gradient_penalty(netD, real_data, fake_data, LAMBDA, device):
        state = torch.get_rng_state()
        alpha = torch.rand(1, 1)                           # the draw the original is about to make
        torch.set_rng_state(state)
        record(f"s{st['n']}.e{st['epoch']}.d{st['gp']}.alpha", alpha)
        st["gp"] += 1
        gp = orig_gp(netD, real_data, fake_data, LAMBDA, device)
        st["losses"][-1]["gradient_penalty"].append(gp.item())
        return gp

    def draw_concat(Gs, Zs, reals, NoiseAmp, in_s, mode, m_noise, m_image, opt):
        n = st["n"]
        if n == 0:  # no lower scales: it returns its zero `in_s` (called for every D step but the very first)
            return orig_dc(Gs, Zs, reals, NoiseAmp, in_s, mode, m_noise, m_image, opt)
        if mode == "rand":
            j = st["dc"]
            st.update(dc=j + 1, in_rand=j, i=0)
            try:
                out = orig_dc(Gs, Zs, reals, NoiseAmp, in_s, mode, m_noise, m_image, opt)
            finally:
                st["in_rand"] = None
            T.put(f"s{n}.e{st['epoch']}.d{j}.prev", out)
        else:
            out = orig_dc(Gs, Zs, reals, NoiseAmp, in_s, mode, m_noise, m_image, opt)
            T.put(f"s{n}.z_prev", out)
        return out

    class RecordingAdam(torch.optim.Adam):
        made: list["RecordingAdam"] = []

        def __init__(self, params, *args, **kwargs):
            super().__init__(params, *args, **kwargs)
            self.lrs: list[float] = []
            RecordingAdam.made.append(self)

        def step(self, closure=None):
            self.lrs.append(self.param_groups[0]["lr"])
            return super().step(closure)

    class RecordingMultiStepLR(orig_msl):
        made: list[dict] = []

        def __init__(self, optimizer, milestones, gamma=0.1, *args, **kwargs):
            RecordingMultiStepLR.made.append({"milestones": list(milestones), "gamma": gamma})
            super().__init__(optimizer, milestones, gamma, *args, **kwargs)

    def d_hook(module, inputs, output):
        # Per epoch: D step j calls netD on real (3j), fake.detach() (3j+1) and the GP mix (3j+2); the G step
        # calls it 3 more times on fake (its BatchNorm is in train mode there too).
        loss = st["losses"][-1]
        p = st["d_calls"]
        st["d_calls"] += 1
        loss["D_forwards"] += 1
        m = output.detach().mean().item()
        if p < 9 and p % 3 == 0:
            loss["errD_real"].append(-m)
        elif p < 9 and p % 3 == 1:
            loss["errD_fake"].append(m)
        elif p >= 9:
            assert loss["errG"] in (None, -m), "the three G-step D outputs should agree"
            loss["errG"] = -m

    def g_hook(real: torch.Tensor, alpha: float):
        def hook(module, inputs, output):
            # Per epoch: 3 fakes (D steps), 3 reconstructions (G steps), and one more reconstruction
            # when `epoch % 500 == 0 or epoch == niter - 1` (for the G(z_opt).png preview).
            loss = st["losses"][-1]
            p = st["g_calls"]
            st["g_calls"] += 1
            loss["G_forwards"] += 1
            if 3 <= p < 6:
                with torch.no_grad():
                    rec = (alpha * torch.nn.MSELoss()(output, real)).item()
                assert loss["rec_loss"] in (None, rec), "the three G-step reconstructions should agree"
                loss["rec_loss"] = rec
        return hook

    def train_single_scale(netD, netG, reals, Gs, Zs, in_s, NoiseAmp, opt, centers=None):
        n = len(Gs)
        st.clear()
        st.update(n=n, phase="setup", epoch=-1, expect=None, in_rand=None, dc=0, gp=0, i=0, order=[], losses=[])
        init_G, init_D = clone_state(netG), clone_state(netD)
        RecordingAdam.made.clear()
        RecordingMultiStepLR.made.clear()
        hooks = [netD.register_forward_hook(d_hook), netG.register_forward_hook(g_hook(reals[n], opt.alpha))]
        try:
            z_curr, in_s_out, G = orig_tss(netD, netG, reals, Gs, Zs, in_s, NoiseAmp, opt, centers)
        finally:
            for h in hooks:
                h.remove()

        prev = scales[-1] if scales else None
        inherited = prev is not None and states_equal(init_G, prev["_final_G"])
        if inherited:
            assert states_equal(init_D, prev["_final_D"]), "G inherited but D not"
        else:
            for k, v in init_G.items():
                T.put(f"s{n}.G.init.{k}", v)
            for k, v in init_D.items():
                T.put(f"s{n}.D.init.{k}", v)
        final_G, final_D = clone_state(netG), clone_state(netD)
        for k, v in final_G.items():
            T.put(f"s{n}.G.final.{k}", v)
        for k, v in final_D.items():
            T.put(f"s{n}.D.final.{k}", v)

        optD, optG = RecordingAdam.made       # their code builds optimizerD first
        assert [id(p) for p in optD.param_groups[0]["params"]] == [id(p) for p in netD.parameters()]
        for tag, optimizer, net in (("D", optD, netD), ("G", optG, netG)):
            for name, p in net.named_parameters():
                for field_, value in optimizer.state[p].items():
                    T.put(f"s{n}.adam{tag}.{name}.{field_}", value)
        niter = opt.niter
        assert len(optG.lrs) == niter and len(optD.lrs) == 3 * niter
        lr_D = [optD.lrs[3 * e] for e in range(niter)]
        assert all(optD.lrs[3 * e + j] == lr_D[e] for e in range(niter) for j in range(3))
        T.put(f"s{n}.z_opt", z_curr)
        scales.append({
            "n": n, "size": [int(opt.nzx), int(opt.nzy)], "nfc": int(opt.nfc), "min_nfc": int(opt.min_nfc),
            "inherited": inherited, "noise_amp": float(opt.noise_amp),
            "z_opt_dtype": str(z_curr.dtype).replace("torch.", ""),
            "lr_G": list(optG.lrs), "lr_D": lr_D,
            "schedulers": list(RecordingMultiStepLR.made),          # [optimizerD's, optimizerG's]
            "lr_after_last_epoch": {"D": optD.param_groups[0]["lr"], "G": optG.param_groups[0]["lr"]},
            "losses": st["losses"], "draw_order": list(st["order"]), "fixed_noise_shape": st["fixed_noise_shape"],
            "_final_G": final_G, "_final_D": final_D,
        })
        return z_curr, in_s_out, G

    opt = their_opt(config, functions, TRAIN_ARGS, input_path)
    real_full = quiet(functions.read_image, opt)
    functions.adjust_scales2image(real_full, opt)
    options = {k: v for k, v in sorted(vars(opt).items())
               if k not in ("device", "input_dir", "out_") and isinstance(v, (int, float, str, bool))}
    Gs, Zs, reals, NoiseAmp = [], [], [], []
    with Patch((functions, "generate_noise", generate_noise),
               (functions, "calc_gradient_penalty", calc_gradient_penalty),
               (training, "draw_concat", draw_concat), (training, "train_single_scale", train_single_scale),
               (training, "optim", types.SimpleNamespace(Adam=RecordingAdam)),
               (torch.optim.lr_scheduler, "MultiStepLR", RecordingMultiStepLR)):
        quiet(training.train, opt, Gs, Zs, reals, NoiseAmp)

    assert len(Gs) == len(scales) == opt.stop_scale + 1
    for n, (G, z, amp, s) in enumerate(zip(Gs, Zs, NoiseAmp, scales)):
        assert states_equal(clone_state(G), s.pop("_final_G")), f"Gs[{n}] != the state on exit of scale {n}"
        s.pop("_final_D")
        assert torch.equal(z, T[f"s{n}.z_opt"]) and float(amp) == s["noise_amp"]
    for n, r in enumerate(reals):
        T.put(f"reals.{n}", r)

    meta = {
        "options": options,   # their opt after post_config + adjust_scales2image, before training
        "argv": TRAIN_ARGS,
        "input": "train_input.png",
        "input_hw": list(TRAIN_INPUT_HW),
        "scale1": opt.scale1, "stop_scale": opt.stop_scale, "scale_factor": opt.scale_factor,
        "num_scales": len(Gs), "sizes": [list(r.shape[2:]) for r in reals],
        "NoiseAmp": [float(a) for a in NoiseAmp], "NoiseAmp_types": [type(a).__name__ for a in NoiseAmp],
        "scales": scales,
    }
    return T, meta, (Gs, Zs, reals, NoiseAmp, opt)


# ---------------------------------------------------------------------------------------- (c) sampling
def train_sampling_model(mods: types.SimpleNamespace, input_path: Path) -> tuple:
    """Their ``training.train``, unrecorded, with the options of (a) but ``SAMPLING_NITER`` epochs per scale."""
    argv = list(TRAIN_ARGS)
    argv[argv.index("--niter") + 1] = str(SAMPLING_NITER)
    opt = their_opt(mods.config, mods.functions, argv, input_path)
    mods.functions.adjust_scales2image(quiet(mods.functions.read_image, opt), opt)
    Gs, Zs, reals, NoiseAmp = [], [], [], []
    quiet(mods.training.train, opt, Gs, Zs, reals, NoiseAmp)
    return Gs, Zs, reals, NoiseAmp, opt, argv


def record_sampling(mods: types.SimpleNamespace, trained: tuple, work: Path) -> tuple[Tensors, dict]:
    """Their ``SinGAN_generate_clean`` at every start scale (and ``SinGAN_generate`` at 0) from a trained model."""
    functions, manipulate = mods.functions, mods.manipulate
    Gs, Zs, reals, NoiseAmp, opt, argv = trained
    T = Tensors()
    for n, (G, z, r) in enumerate(zip(Gs, Zs, reals)):   # the model itself (its four lists)
        for k, v in G.state_dict().items():
            T.put(f"model.G{n}.{k}", v)
        T.put(f"model.Zs.{n}", z)
        T.put(f"model.reals.{n}", r)
    orig_noise = functions.generate_noise
    drawn: list[torch.Tensor] = []

    def generate_noise(size, *args, **kwargs):
        out = orig_noise(size, *args, **kwargs)
        drawn.append(out.detach().clone())
        return out

    class Tap(torch.nn.Module):
        """The finest generator, keeping a copy of each output (the float result, before any PNG writing)."""

        def __init__(self, g: torch.nn.Module) -> None:
            super().__init__()
            self.g, self.outputs = g, []

        def forward(self, x, y):
            out = self.g(x, y)
            self.outputs.append(out.detach().clone())
            return out

    opt.dir2save = str(work / "samples")
    opt.out = str(work / "out")
    os.makedirs(opt.dir2save, exist_ok=True)
    opt.checkpoint_id, opt.mask_post_processing = "golden", True
    num = len(Gs)
    first: list[torch.Tensor] | None = None
    runs = [("clean", k, manipulate.SinGAN_generate_clean) for k in range(num + 1)]
    runs.append(("plain", 0, manipulate.SinGAN_generate))
    plain_equals_clean = None
    with Patch((functions, "generate_noise", generate_noise)):
        for kind, k, fn in runs:
            drawn.clear()
            tap = Tap(Gs[-1])
            opt.gen_start_scale = k
            torch.manual_seed(SAMPLE_SEED)
            quiet(fn, Gs[:-1] + [tap], Zs, reals, NoiseAmp, opt, gen_start_scale=k, num_samples=NUM_SAMPLES)
            assert len(drawn) == num * NUM_SAMPLES and len(tap.outputs) == NUM_SAMPLES
            if first is None:
                first = list(drawn)
                for idx, z in enumerate(drawn):          # drawn scale by scale, sample by sample
                    T.put(f"noise.scale{idx // NUM_SAMPLES}.sample{idx % NUM_SAMPLES}", z)
            else:
                assert all(torch.equal(a, b) for a, b in zip(first, drawn)), "same seed, same draws"
            if kind == "clean":
                for i, out in enumerate(tap.outputs):
                    T.put(f"out.start{k}.sample{i}", out)
            else:
                plain_equals_clean = all(torch.equal(out, T[f"out.start0.sample{i}"])
                                         for i, out in enumerate(tap.outputs))
                if not plain_equals_clean:
                    for i, out in enumerate(tap.outputs):
                        T.put(f"plain.start0.sample{i}", out)
    meta = {
        "model": {"argv": argv, "niter": SAMPLING_NITER, "input": "train_input.png",
                  "nfc": [int(G.head.conv.weight.shape[0]) for G in Gs],
                  "NoiseAmp": [float(a) for a in NoiseAmp],
                  "Zs_dtypes": [str(z.dtype).replace("torch.", "") for z in Zs]},
        "seed": SAMPLE_SEED, "num_samples": NUM_SAMPLES, "start_scales": list(range(num + 1)),
        "scale_factor": opt.scale_factor, "sizes": [list(r.shape[2:]) for r in reals],
        "noise_shapes": [list(T[f"noise.scale{n}.sample0"].shape) for n in range(num)],
        "plain_SinGAN_generate_equals_clean_at_start0": plain_equals_clean,
        # how far apart consecutive start scales are (sample 0, max |diff| in grey levels of 1/255): the test's bite
        "levels_between_consecutive_start_scales": [
            round(float((T[f"out.start{k}.sample0"] - T[f"out.start{k + 1}.sample0"]).abs().max()) * 127.5, 2)
            for k in range(num)],
    }
    assert min(meta["levels_between_consecutive_start_scales"]) > 1.0
    return T, meta


# ---------------------------------------------------------------------------------------- (b) schedule + nfc
def record_schedule(mods: types.SimpleNamespace, work: Path) -> dict:
    functions, training, config = mods.functions, mods.training, mods.config
    cases = []
    for h, w, max_size, min_size in SCHEDULE_CASES:
        opt = types.SimpleNamespace(min_size=min_size, max_size=max_size, scale_factor_init=0.75, nc_im=3,
                                    not_cuda=True)
        case: dict[str, Any] = {"input_hw": [h, w], "max_size": max_size, "min_size": min_size}
        try:
            real = functions.adjust_scales2image(torch.zeros(1, 3, h, w), opt)
            reals = functions.creat_reals_pyramid(real, [], opt)
        except Exception as err:  # noqa: BLE001 - recorded: the original fails on this input
            case["error"] = f"{type(err).__name__}: {err}"
        else:
            case.update(num_scales_opt=opt.num_scales, stop_scale=opt.stop_scale, scale1=opt.scale1,
                        scale_factor=opt.scale_factor, resized_hw=list(real.shape[2:]),
                        sizes=[list(r.shape[2:]) for r in reals])
        cases.append(case)

    # nfc per scale: their train loop with train_single_scale replaced by a recorder (no training).
    h, w, max_size, min_size = NFC_CASE
    path = work / "nfc" / "nfc_input.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(np.full((h, w, 4), 128, np.uint8)).save(path)
    opt = their_opt(config, functions, ["--not_cuda", "--nc_im", "4", "--nc_z", "4", "--max_size", str(max_size),
                                        "--min_size", str(min_size), "--manualSeed", "0"], path)
    functions.adjust_scales2image(quiet(functions.read_image, opt), opt)
    calls: list[dict] = []
    last: dict[str, Any] = {}

    def train_single_scale(netD, netG, reals, Gs, Zs, in_s, NoiseAmp, opt, centers=None):
        state = clone_state(netG)
        calls.append({"scale": len(Gs), "nfc": opt.nfc, "min_nfc": opt.min_nfc,
                      "head_out_channels": int(state["head.conv.weight"].shape[0]),
                      "inherited": bool(last) and states_equal(state, last)})
        last.clear()
        last.update(state)
        opt.noise_amp = 1
        functions.save_networks(netG, netD, torch.zeros(1), opt)  # their next scale loads netG.pth / netD.pth
        return torch.zeros(1), in_s, netG

    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        with Patch((training, "train_single_scale", train_single_scale)):
            quiet(training.train, opt, [], [], [], [])
    finally:
        os.chdir(cwd)
    return {"cases": cases, "nfc_case": {"input_hw": [h, w], "max_size": max_size, "min_size": min_size,
                                         "nfc_init": opt.nfc_init, "num_scales": len(calls), "calls": calls}}


# ---------------------------------------------------------------------------------------- (d) style transfer
def seeded_vgg19():
    import torchvision

    torch.manual_seed(VGG_SEED)
    return torchvision.models.vgg19(weights=None)


def record_style(mods: types.SimpleNamespace, content_path: Path, style_path: Path,
                 resized_path: Path) -> tuple[Tensors, dict]:
    """Their ``transfer_style`` with a seeded random VGG19, per ratio: losses per step, per layer at step 0, image."""
    st_mod = mods.style_transfer
    T = Tensors()
    content_img = Image.open(content_path).convert("RGB")
    # torchvision's Resize((h, w)) on a PIL image is PIL's bilinear resize; kept as a PNG so a test can feed
    # exactly the pixels their optimisation saw.
    Image.open(style_path).convert("RGB").resize(content_img.size, Image.BILINEAR).save(resized_path)
    vgg_sha = state_sha256(seeded_vgg19().features.state_dict())
    cases = {}
    for cw, sw in STYLE_RATIOS:
        tag = f"r{cw}_{sw}"
        rec: dict[str, Any] = {"features_calls": [], "content": [], "style": [], "per_layer": None, "final": None}
        orig = {n: getattr(st_mod, n) for n in ("get_features", "get_content_loss", "get_style_loss", "imgtensor2pil")}

        def get_features(x, model, layers, rec=rec, orig=orig):
            rec["features_calls"].append(x.detach().clone())
            return orig["get_features"](x, model, layers)

        def get_content_loss(pred, target, layer, rec=rec, orig=orig):
            loss = orig["get_content_loss"](pred, target, layer)
            rec["content"].append(loss.detach().clone())
            rec["content_layer"] = layer
            return loss

        def get_style_loss(pred, target, layers_dict, rec=rec, orig=orig):
            loss = orig["get_style_loss"](pred, target, layers_dict)
            if rec["per_layer"] is None:   # step 0: their function on one layer at a time
                rec["style_layers"] = dict(layers_dict)
                rec["per_layer"] = {name: orig["get_style_loss"](pred, target, {name: wt}).item()
                                    for name, wt in layers_dict.items()}
            rec["style"].append(loss.detach().clone())
            return loss

        def imgtensor2pil(img, mean_rgb, std_rgb, rec=rec, orig=orig):
            rec["final"] = img.detach().clone()
            rec["mean_std"] = (list(mean_rgb), list(std_rgb))
            return orig["imgtensor2pil"](img, mean_rgb, std_rgb)

        vgg_ns = types.SimpleNamespace(vgg19=lambda pretrained=True, **kw: seeded_vgg19())
        with Patch((st_mod, "models", vgg_ns), (st_mod, "get_features", get_features),
                   (st_mod, "get_content_loss", get_content_loss), (st_mod, "get_style_loss", get_style_loss),
                   (st_mod, "imgtensor2pil", imgtensor2pil)):
            quiet(st_mod.transfer_style, str(content_path), str(style_path), STYLE_STEPS, cw, sw,
                  torch.device("cpu"), "vgg19")

        content_t, style_t = rec["features_calls"][0], rec["features_calls"][1]
        totals = [(cw * c + sw * s).item() for c, s in zip(rec["content"], rec["style"])]
        mean_rgb, std_rgb = rec["mean_std"]
        image = rec["final"].clone()
        image *= torch.tensor(std_rgb).view(3, 1, 1)   # their imgtensor2pil's denormalisation, before to_pil_image
        image += torch.tensor(mean_rgb).view(3, 1, 1)
        image = image.clamp(0, 1)
        T.put(f"{tag}.image", image)
        # the pixels their optimisation started from are exactly the stored PNGs (normalised with ImageNet mean/std)
        mean, std = torch.tensor(mean_rgb).view(3, 1, 1), torch.tensor(std_rgb).view(3, 1, 1)
        for t, p in ((content_t[0], content_path), (style_t[0], resized_path)):
            arr = torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1).float().div(255)
            assert torch.equal((arr - mean) / std, t), p
        cases[tag] = {
            "content_weight": cw, "style_weight": sw, "steps": STYLE_STEPS,
            "content_layer": rec["content_layer"], "style_layers": rec["style_layers"],
            "step0_style_per_layer": rec["per_layer"],
            "content_loss": [c.item() for c in rec["content"]], "style_loss": [s.item() for s in rec["style"]],
            "total_loss": totals,
        }
    meta = {"vgg": {"builder": "torch.manual_seed(SEED); torchvision.models.vgg19(weights=None)", "seed": VGG_SEED,
                    "features_sha256": vgg_sha, "hash": "sha256 over key.encode() + tensor bytes, state_dict order"},
            "content": content_path.name, "style": style_path.name, "style_resized": resized_path.name,
            "content_hw": list(STYLE_CONTENT_HW), "style_hw": list(STYLE_STYLE_HW),
            "imagenet_mean": rec["mean_std"][0], "imagenet_std": rec["mean_std"][1], "adam_lr": 0.01,
            "cases": cases}
    return T, meta


# ---------------------------------------------------------------------------------------- output
def write_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(dict(sorted(tensors.items())), str(tmp), metadata={"source": f"{REF_PACKAGE}=={REF_VERSION}"})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def write_png(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    Image.fromarray(arr).save(tmp)
    os.replace(tmp, path)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform(), "torch": torch.__version__,
           "torch_threads": str(torch.get_num_threads())}
    for dist in (REF_PACKAGE, "torchvision", "numpy", "scipy", "scikit-image", "pillow", "matplotlib",
                 "scikit-learn", "safetensors"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--ref-dir", default=None,
                        help="folder to import the original from / install it into (default: a temporary folder)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        where = ensure_reference(args.ref_dir, stack)
        mods = types.SimpleNamespace(
            functions=importlib.import_module("singan_seg_polyp.SinGAN.functions"),
            training=importlib.import_module("singan_seg_polyp.SinGAN.training"),
            manipulate=importlib.import_module("singan_seg_polyp.SinGAN.manipulate"),
            config=importlib.import_module("singan_seg_polyp.config"),
            style_transfer=importlib.import_module("singan_seg_polyp.style_transfer"),
        )
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="golden_work_")))
        rng = np.random.default_rng(IMAGE_SEED)
        write_png(out / "train_input.png", make_train_input(rng))
        content, style = make_style_images(rng)
        write_png(out / "style_content.png", content)
        write_png(out / "style_style.png", style)

        timings = {}
        cwd = os.getcwd()
        os.chdir(work)  # their code writes TrainedModels/... and PNGs relative to the working directory
        try:
            t = time.perf_counter()
            schedule = record_schedule(mods, work)
            timings["schedule_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            train_T, train_meta, _ = record_training(mods, out / "train_input.png")
            timings["training_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            sample_T, sample_meta = record_sampling(mods, train_sampling_model(mods, out / "train_input.png"), work)
            timings["sampling_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            style_T, style_meta = record_style(mods, out / "style_content.png", out / "style_style.png",
                                               out / "style_style_resized.png")
            timings["style_s"] = round(time.perf_counter() - t, 2)
        finally:
            os.chdir(cwd)
        write_safetensors(out / "training.safetensors", train_T)
        write_json(out / "training.json", train_meta)
        write_safetensors(out / "sampling.safetensors", sample_T)
        write_json(out / "sampling.json", sample_meta)
        write_safetensors(out / "style.safetensors", style_T)
        write_json(out / "style.json", style_meta)
        write_json(out / "schedule.json", schedule)
        write_json(out / "meta.json", {"versions": versions(), "seeds": {
            "train": TRAIN_SEED, "sample": SAMPLE_SEED, "vgg": VGG_SEED, "images": IMAGE_SEED},
            "command": "python tests/golden/make_golden.py"})
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote {out} ({total / 1024:.0f} KiB) in {time.perf_counter() - t0:.1f} s with the original from {where}: "
          f"{timings}")


if __name__ == "__main__":
    main()
