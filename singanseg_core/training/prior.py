"""Warm start: a pyramid trained on one image starts the pyramid of another (``TrainConfig.init_from``).

Scales are matched **by index**: the prior's generator ``i`` is the starting point of the new model's generator
``i`` (scale 0 is the coarsest in both); scales the prior lacks start as usual (from the scale below when as wide,
else fresh). Each index must have the same width in both (``nfc_for_scale``), and the prior must be of the same
kind (channels, kernel, layers). The new image's own pyramid, reconstruction noise ``z_opt`` and noise amplitudes
are computed as for any training. A discriminator starts from the prior's where the prior kept one (only the last
trained scale's, in ``trainer_state.safetensors``), else fresh.

The checkpoint records the prior's folder and the SHA-256 of its weights (``train.init_from``), and a warm-started
partial run resumes only while the prior is unchanged, so its label never lies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import CheckpointError, InputError
from ..model.singanseg import SinGANSeg
from ..networks.singan import Generator, nfc_for_scale
from ..persistence import WEIGHTS_NAME
from .checkpoints import TRAINER_STATE_NAME, _read_trainer_state
from .config import TrainConfig

HASH_CHUNK = 1 << 20  # bytes read at a time while hashing the prior's weights
# A warm-started model's default budget: 1/WARM_BUDGET_DIVISOR of its settings' iterations per scale (the 5x cut
# the fidelity benchmark judges against the full budget: "Fidelity across generator seeds" in bench/RESULTS.md).
WARM_BUDGET_DIVISOR = 5
WARM_MIN_ITERS = 10


def warm_niter(niter: int) -> int:
    """Default iterations per scale of a model warm-started from a prior, for settings of ``niter``."""
    return max(WARM_MIN_ITERS, round(niter / WARM_BUDGET_DIVISOR))


@dataclass
class Prior:
    """A loaded prior: its generators (CPU), widths, discriminator states by scale and weights hash."""

    folder: Path
    content_hash: str
    gens: list[Generator]
    nfcs: list[int]
    d_states: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)

    def record(self) -> dict[str, str]:
        """What the checkpoint's ``train.init_from`` holds."""
        return {"path": str(self.folder), "content_hash": self.content_hash}


def weights_hash(folder: Path) -> str:
    """SHA-256 (hex) of ``folder/model.safetensors``."""
    digest = hashlib.sha256()
    with open(folder / WEIGHTS_NAME, "rb") as fh:
        for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def kind_mismatch(prior: SinGANSeg, cfg: TrainConfig) -> str | None:
    """Why ``prior`` cannot start a model trained with ``cfg`` (one phrase), or ``None``."""
    pc = prior.config
    for name, theirs, ours in (("channels", pc.nc_im, cfg.nc_im), ("kernel", pc.ker_size, cfg.ker_size),
                               ("layers", pc.num_layer, cfg.num_layer)):
        if theirs != ours:
            return f"its {name} is {theirs}, this model's is {ours}"
    for i, width in enumerate(pc.nfc):
        ours = nfc_for_scale(i, cfg.nfc, cfg.max_nfc)
        if width != ours:
            return f"its nfc at scale {i} is {width}, this model's is {ours} (nfc {cfg.nfc}, max_nfc {cfg.max_nfc})"
    return None


def load_prior(folder: str | Path, cfg: TrainConfig) -> Prior:
    """The prior in ``folder`` for a model trained with ``cfg``.

    Raises:
        InputError: no checkpoint there, an unreadable one or NaN/inf weights (``from_pretrained`` refuses
            them), a prior of another kind (naming the mismatch), or a discriminator state that does not fit.
    """
    path = Path(folder)
    if not (path / WEIGHTS_NAME).is_file():
        raise InputError(f"prior {path}: no checkpoint there (no {WEIGHTS_NAME})")
    try:
        model = SinGANSeg.from_pretrained(path, device="cpu")
    except CheckpointError as err:
        raise InputError(f"prior {path}: {err}") from None
    problem = kind_mismatch(model, cfg)
    if problem:
        raise InputError(f"prior {path} is of another kind: {problem}")
    d_states: dict[int, dict[str, torch.Tensor]] = {}
    if (path / TRAINER_STATE_NAME).is_file():
        state = _read_trainer_state(path)
        for name, t in state.items():
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise InputError(f"prior {path}: {TRAINER_STATE_NAME} tensor {name} holds NaN or infinite values")
        d_states[len(model.generators) - 1] = state
    return Prior(path, weights_hash(path), [g.cpu() for g in model.generators], list(model.config.nfc), d_states)


def resume_problem(recorded: object, prior: Prior | None) -> str | None:
    """Why a partial checkpoint whose ``train.init_from`` is ``recorded`` may not continue with ``prior``."""
    theirs = recorded.get("content_hash") if isinstance(recorded, dict) else None
    ours = prior.content_hash if prior is not None else None
    if theirs == ours:
        return None
    if ours is None:
        return "the partial checkpoint was warm-started from a prior; resume with the same --init-from"
    if theirs is None:
        return "the partial checkpoint was not warm-started; resume without --init-from or use --overwrite"
    return (f"the prior {prior.folder} changed since the partial checkpoint started from it (weights hash "
            f"{theirs[:12]} then, {ours[:12]} now); use --overwrite")


__all__ = ["Prior", "kind_mismatch", "load_prior", "resume_problem", "weights_hash"]
