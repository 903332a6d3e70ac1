"""Loaders for the golden reference files in ``tests/golden/data`` (made by ``make_golden.py`` from the
authors' own code; see ``README.md`` next to this file for the key scheme).

``load_training_reference()`` turns the recording of their ``training.train`` run into one
:class:`ScaleReference` per scale: everything a replay of that run needs (the states each scale started from,
every random draw by meaning, the learning rates) and everything it should end with (states, Adam moments,
losses, noise amplitude, z_opt). Tensors are CPU, exactly as their code produced them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

DATA = Path(__file__).resolve().parent / "data"

_PREV = re.compile(r"^s(\d+)\.e(\d+)\.d(\d+)\.prev$")


def load_json(name: str) -> Any:
    """``data/<name>.json`` as Python objects."""
    return json.loads((DATA / f"{name}.json").read_text())


@lru_cache(maxsize=None)
def _tensors(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(DATA / f"{name}.safetensors"))


def load_tensors(name: str) -> dict[str, torch.Tensor]:
    """``data/<name>.safetensors`` as key -> tensor (a fresh dict; the tensors are shared, don't modify them)."""
    return dict(_tensors(name))


@dataclass
class ScaleReference:
    """The original's ``train_single_scale`` for scale ``n``.

    Attributes:
        n: scale index (0 = coarsest).
        size: ``(h, w)`` of ``reals[n]``.
        nfc: channel width the original used at this scale.
        inherited: True when G and D started from scale ``n - 1``'s final states (same nfc), else fresh init.
        init_G, init_D: state_dicts on entry (after init / inheritance), keys as our ``Generator`` /
            ``Discriminator``.
        final_G, final_D: state_dicts on exit: weights, BatchNorm running_mean / running_var /
            num_batches_tracked. ``final_G`` is also ``Gs[n]`` of the finished model.
        adam_G, adam_D: Adam state at the end, parameter name (``named_parameters`` order) ->
            ``{"exp_avg", "exp_avg_sq", "step"}``.
        lr_G, lr_D: learning rate used by the optimizer steps of each epoch (what their MultiStepLR set).
        milestones, gamma: the arguments their code passed to ``MultiStepLR`` (same for G and D).
        draws: every random draw of this scale by meaning, as drawn (before expand / pad):
            ``s{n}.e{e}.z_opt`` (n = 0 only; ``(1, 1, h, w)``), ``s{n}.e{e}.noise`` (``(1, 1, h, w)`` at n = 0,
            else ``(1, nc_z, h, w)``), ``s{n}.e{e}.d{j}.prev{i}`` (lower scale i's noise inside
            ``draw_concat(..., 'rand')`` of D step j; ``(1, 1, ...)`` for i = 0, else ``(1, nc_z, ...)``),
            ``s{n}.e{e}.d{j}.alpha`` (the gradient-penalty mix, ``(1, 1)`` uniform).
        draw_order: the keys in the order the original drew them from the global RNG. It starts with
            ``s{n}.fixed_noise`` (drawn once for its shape, never used, not stored; shape in
            ``fixed_noise_shape``).
        prevs: ``(epoch, d_step)`` -> output of ``draw_concat(..., 'rand')`` before padding, ``(1, nc, h, w)``
            (n > 0; at n = 0 the "prev" is all zeros).
        z_prev: output of ``draw_concat(..., 'rec')`` before padding, ``(1, nc, h, w)``, or None at n = 0.
        losses: per epoch ``{"errD_real": [j0, j1, j2], "errD_fake": [...], "gradient_penalty": [...],
            "errG", "rec_loss", "G_forwards", "D_forwards"}`` with their signs (``errD_real = -mean D(real)``,
            ``errD_fake = mean D(fake)``, ``errG = -mean D(fake)`` in the G step, ``rec_loss = alpha * MSE``).
            ``G_forwards`` / ``D_forwards`` count train-mode forward passes (each moves BatchNorm statistics).
        noise_amp: ``NoiseAmp[n]`` (1 at scale 0, else 0.1 * RMSE(real, z_prev)).
        z_opt: ``Zs[n]``, ``(1, nc_z, h + 10, w + 10)``: float32 noise at n = 0 (the LAST epoch's draw,
            expanded and padded), all-False bool zeros above (their dtype).
        real: ``reals[n]``, ``(1, nc_im, h, w)`` in [-1, 1].
    """

    n: int
    size: tuple[int, int]
    nfc: int
    inherited: bool
    init_G: dict[str, torch.Tensor]
    init_D: dict[str, torch.Tensor]
    final_G: dict[str, torch.Tensor]
    final_D: dict[str, torch.Tensor]
    adam_G: dict[str, dict[str, torch.Tensor]]
    adam_D: dict[str, dict[str, torch.Tensor]]
    lr_G: list[float]
    lr_D: list[float]
    milestones: list[int]
    gamma: float
    draws: dict[str, torch.Tensor]
    draw_order: list[str]
    fixed_noise_shape: list[int]
    prevs: dict[tuple[int, int], torch.Tensor]
    z_prev: torch.Tensor | None
    losses: list[dict[str, Any]]
    noise_amp: float
    z_opt: torch.Tensor
    real: torch.Tensor

    @property
    def niter(self) -> int:
        return len(self.losses)

    def noise(self, epoch: int) -> torch.Tensor:
        """``noise_`` of ``epoch`` as drawn."""
        return self.draws[f"s{self.n}.e{epoch}.noise"]

    def z_opt_draw(self, epoch: int) -> torch.Tensor:
        """Scale 0 only: the z_opt drawn at the start of ``epoch`` (redrawn every epoch), ``(1, 1, h, w)``."""
        return self.draws[f"s{self.n}.e{epoch}.z_opt"]

    def prev_draws(self, epoch: int, d_step: int) -> list[torch.Tensor]:
        """The noise of lower scales 0..n-1 drawn for the random ``prev`` of D step ``d_step``."""
        return [self.draws[f"s{self.n}.e{epoch}.d{d_step}.prev{i}"] for i in range(self.n)]

    def alpha(self, epoch: int, d_step: int) -> torch.Tensor:
        """The gradient-penalty mixing scalar of D step ``d_step``, ``(1, 1)``."""
        return self.draws[f"s{self.n}.e{epoch}.d{d_step}.alpha"]


@dataclass
class TrainingReference:
    """The original's whole training run (``training.json`` + ``training.safetensors``).

    Attributes:
        options: their ``opt`` after ``post_config`` + ``adjust_scales2image`` (nc_im, nfc_init, niter, ...).
        argv: the command-line options given to their parser.
        input_path: the 4-channel RGBA PNG they trained on (alpha = mask, 0/255); ``input_hw`` its (H, W).
        scale1, stop_scale, scale_factor, sizes: the schedule their code computed.
        scales: one :class:`ScaleReference` per scale, coarse to fine.
    """

    options: dict[str, Any]
    argv: list[str]
    input_path: Path
    input_hw: tuple[int, int]
    scale1: float
    stop_scale: int
    scale_factor: float
    sizes: list[tuple[int, int]]
    scales: list[ScaleReference] = field(default_factory=list)

    # the finished model's four lists, as their train() left them
    @property
    def generators(self) -> list[dict[str, torch.Tensor]]:
        """``Gs`` as state_dicts (they load into our ``singanseg_core.networks.singan.Generator``)."""
        return [s.final_G for s in self.scales]

    @property
    def z_opts(self) -> list[torch.Tensor]:
        """``Zs`` (float32 at scale 0, bool zeros above, as stored by their code)."""
        return [s.z_opt for s in self.scales]

    @property
    def noise_amps(self) -> list[float]:
        """``NoiseAmp`` as floats (theirs: the int 1, then 0-d float32 tensors)."""
        return [s.noise_amp for s in self.scales]

    @property
    def reals(self) -> list[torch.Tensor]:
        return [s.real for s in self.scales]

    def train_config_kwargs(self) -> dict[str, Any]:
        """Our ``TrainConfig`` fields for the same run (their MultiStepLR milestone, the absolute epoch 1600 whatever
        niter is, is our ``lr_drop_epoch``)."""
        o = self.options
        return {"nc_im": o["nc_im"], "nfc": o["nfc_init"], "ker_size": o["ker_size"], "num_layer": o["num_layer"],
                "min_size": o["min_size"], "max_size": o["max_size"], "scale_factor": o["scale_factor_init"],
                "niter": o["niter"], "lr_g": o["lr_g"], "lr_d": o["lr_d"], "beta1": o["beta1"],
                "gamma": o["gamma"], "lr_drop_epoch": self.scales[0].milestones[0],
                "d_steps": o["Dsteps"], "lambda_grad": o["lambda_grad"], "alpha": float(o["alpha"]),
                "noise_amp_init": o["noise_amp_init"]}


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _adam(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, dict[str, torch.Tensor]]:
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in _prefixed(tensors, prefix).items():
        name, field_ = key.rsplit(".", 1)
        out.setdefault(name, {})[field_] = value
    return out


@lru_cache(maxsize=1)
def load_training_reference() -> TrainingReference:
    """Load the recording of their training run (cached; treat the result as read-only)."""
    meta = load_json("training")
    T = _tensors("training")
    ref = TrainingReference(options=meta["options"], argv=meta["argv"], input_path=DATA / meta["input"],
                            input_hw=tuple(meta["input_hw"]), scale1=meta["scale1"], stop_scale=meta["stop_scale"],
                            scale_factor=meta["scale_factor"], sizes=[tuple(s) for s in meta["sizes"]])
    for s in meta["scales"]:
        n = s["n"]
        final_G, final_D = _prefixed(T, f"s{n}.G.final."), _prefixed(T, f"s{n}.D.final.")
        if s["inherited"]:  # stored once: entry states of an inheriting scale are the previous scale's exit
            init_G, init_D = ref.scales[-1].final_G, ref.scales[-1].final_D
        else:
            init_G, init_D = _prefixed(T, f"s{n}.G.init."), _prefixed(T, f"s{n}.D.init.")
        draws = {k: T[k] for k in s["draw_order"] if k in T}
        prevs = {}
        for k, v in T.items():
            m = _PREV.match(k)
            if m and int(m.group(1)) == n:
                prevs[(int(m.group(2)), int(m.group(3)))] = v
        (sched_D, sched_G) = s["schedulers"]
        assert sched_D == sched_G, "their G and D schedulers get the same arguments"
        ref.scales.append(ScaleReference(
            n=n, size=tuple(s["size"]), nfc=s["nfc"], inherited=s["inherited"],
            init_G=init_G, init_D=init_D, final_G=final_G, final_D=final_D,
            adam_G=_adam(T, f"s{n}.adamG."), adam_D=_adam(T, f"s{n}.adamD."),
            lr_G=s["lr_G"], lr_D=s["lr_D"], milestones=sched_G["milestones"], gamma=sched_G["gamma"],
            draws=draws, draw_order=s["draw_order"], fixed_noise_shape=s["fixed_noise_shape"], prevs=prevs,
            z_prev=T.get(f"s{n}.z_prev"), losses=s["losses"], noise_amp=s["noise_amp"],
            z_opt=T[f"s{n}.z_opt"], real=T[f"reals.{n}"],
        ))
    return ref


@dataclass
class SamplingReference:
    """The model their sampler ran on (``sampling.*``: a second run of their ``training.train``, niter 20) and
    what their ``SinGAN_generate_clean`` produced from it.

    Attributes:
        generators, z_opts, reals, noise_amps: the model's ``Gs`` (state_dicts) / ``Zs`` / ``reals`` / ``NoiseAmp``.
        scale_factor: the factor their code used between scales.
        noise: ``noise[sample][scale]`` as drawn, ``(1, 1, h, w)`` at scale 0, else ``(1, nc_z, h, w)``; the same
            draws at every start scale (the RNG is re-seeded before each call).
        outputs: ``outputs[start][sample]`` the finest generator's float output ``(1, nc_im, H, W)``.
    """

    generators: list[dict[str, torch.Tensor]]
    z_opts: list[torch.Tensor]
    reals: list[torch.Tensor]
    noise_amps: list[float]
    scale_factor: float
    noise: list[list[torch.Tensor]]
    outputs: dict[int, list[torch.Tensor]]


@lru_cache(maxsize=1)
def load_sampling_reference() -> SamplingReference:
    meta = load_json("sampling")
    T = _tensors("sampling")
    num = len(meta["sizes"])
    samples = range(meta["num_samples"])
    return SamplingReference(
        generators=[_prefixed(T, f"model.G{n}.") for n in range(num)],
        z_opts=[T[f"model.Zs.{n}"] for n in range(num)], reals=[T[f"model.reals.{n}"] for n in range(num)],
        noise_amps=meta["model"]["NoiseAmp"], scale_factor=meta["scale_factor"],
        noise=[[T[f"noise.scale{n}.sample{i}"] for n in range(num)] for i in samples],
        outputs={k: [T[f"out.start{k}.sample{i}"] for i in samples] for k in meta["start_scales"]},
    )
