"""Where VGG19's weights come from: torchvision's ImageNet weights (its cache, or a download), a local file,
or, for tests and offline demos only, seeded random features (results made with them say so).
The one place that decides "no pretrained weights → random features" is :func:`resolve_features`."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..device import resolve_device
from ..errors import SinGANSegError
from ..networks.vgg import VGG19_CONV_SHAPES, vgg19_features_module

WEIGHTS_ENV_VAR = "SINGANSEG_VGG19_WEIGHTS"


class VGGWeightsError(SinGANSegError):
    """Pretrained VGG19 weights are missing, unreadable, or not a vgg19 state_dict."""



def _torchvision_weights_file() -> Path:
    """Where ``torchvision``'s own cache keeps ``VGG19_Weights.IMAGENET1K_V1`` (no download)."""
    from torchvision.models import VGG19_Weights

    filename = os.path.basename(VGG19_Weights.IMAGENET1K_V1.url)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _how_to_provide() -> str:
    return (
        "Provide pretrained VGG19 weights in one of these ways: "
        "(1) on a machine with internet run `python -c \"import torchvision; "
        "torchvision.models.vgg19(weights='IMAGENET1K_V1')\"` and copy the file "
        f"{_torchvision_weights_file().name} into {_torchvision_weights_file().parent}; "
        f"(2) set {WEIGHTS_ENV_VAR}=/path/to/vgg19.pth (a torchvision vgg19 state_dict, .pth or "
        ".safetensors); (3) pass --vgg-weights PATH (CLI) or weights=PATH (Python). "
        "For tests and offline demos only, --random-features / random_features=True uses random, "
        "not pretrained, VGG19 weights."
    )


def vgg_weights_status() -> tuple[bool, str]:
    """Whether pretrained VGG19 weights can be used without downloading, and a sentence saying so.

    Checks ``$SINGANSEG_VGG19_WEIGHTS`` (exists, not validated: that reads the file) and the
    torchvision cache. Never downloads anything.
    """
    env = os.environ.get(WEIGHTS_ENV_VAR)
    if env:
        if Path(env).is_file():
            return True, f"Pretrained VGG19 weights: {env} (from {WEIGHTS_ENV_VAR})."
        return False, f"{WEIGHTS_ENV_VAR} points to {env}, which does not exist. " + _how_to_provide()
    cached = _torchvision_weights_file()
    if cached.is_file():
        return True, f"Pretrained VGG19 weights: torchvision cache ({cached})."
    return False, f"Pretrained VGG19 weights not found (torchvision cache {cached}, {WEIGHTS_ENV_VAR} unset). " + _how_to_provide()


def validate_vgg19_state_dict(state: Any, source: str = "weights") -> dict[str, torch.Tensor]:
    """Check a vgg19 state_dict and return its ``features`` part with keys ``"{index}.weight|bias"``.

    Accepts a full torchvision ``vgg19`` state_dict (``features.N.weight`` ..., classifier keys are
    ignored), a ``features``-only one (``N.weight``), or either wrapped in ``{"state_dict": ...}``.
    Raises ``VGGWeightsError`` naming ``source`` and the first problems found.
    """
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise VGGWeightsError(f"{source}: not a state_dict (expected a mapping of tensor names to tensors)")
    prefix = "features." if any(str(k).startswith("features.") for k in state) else ""
    out, problems = {}, []
    for index, (c_out, c_in) in sorted(VGG19_CONV_SHAPES.items()):
        for kind, shape in (("weight", (c_out, c_in, 3, 3)), ("bias", (c_out,))):
            key = f"{prefix}{index}.{kind}"
            t = state.get(key)
            if t is None:
                problems.append(f"missing {key}")
            elif not isinstance(t, torch.Tensor) or not t.is_floating_point():
                problems.append(f"{key} is not a float tensor")
            elif tuple(t.shape) != shape:
                problems.append(f"{key} has shape {tuple(t.shape)}, expected {shape}")
            else:
                out[f"{index}.{kind}"] = t.float()
    if problems:
        more = f" (+{len(problems) - 4} more)" if len(problems) > 4 else ""
        raise VGGWeightsError(
            f"{source} is not a torchvision vgg19 state_dict: {'; '.join(problems[:4])}{more}"
        )
    return out


def load_vgg19_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read and validate a local vgg19 weights file (``.pth``/``.pt`` weights-only, or ``.safetensors``)."""
    path = Path(path)
    if not path.is_file():
        raise VGGWeightsError(f"VGG19 weights file {path} does not exist. " + _how_to_provide())
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            # weights_only: never unpickle arbitrary objects from a user-supplied file.
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any reader failure is the file's problem
        import pickle

        why = (
            "not a torch file, or it holds objects other than tensors (refused: only plain "
            "state_dicts are loaded, never arbitrary pickles)"
            if isinstance(err, pickle.UnpicklingError) or "weights_only" in str(err)
            else f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
        )
        raise VGGWeightsError(f"VGG19 weights file {path} cannot be read as a weights-only state_dict ({why})") from None
    return validate_vgg19_state_dict(state, source=f"VGG19 weights file {path}")




@dataclass
class VGG19Backbone:
    """Frozen VGG19 ``features`` on a device, plus where its weights came from.

    Attributes:
        features: ``nn.Sequential`` of torchvision's vgg19 features (eval, no grad).
        source: human-readable origin ("torchvision IMAGENET1K_V1 (...)", a file, or random).
        random_features: True when the weights are random, i.e. results are for tests/demos only.
    """

    features: nn.Sequential
    source: str
    random_features: bool
    seed: int | None = None

    @property
    def device(self) -> torch.device:
        return next(self.features.parameters()).device




def _make_vgg19_features(state: dict[str, torch.Tensor] | None, seed: int | None) -> nn.Sequential:
    """VGG19 features with ``state`` loaded, or random when ``state`` is None.

    Random weights follow torchvision's VGG initialisation (Kaiming normal, fan_out, ReLU gain;
    zero biases) drawn from a generator seeded with ``seed``; the caller's global RNG is untouched.
    """
    features = vgg19_features_module()
    if state is None:
        gen = torch.Generator().manual_seed(int(seed or 0))
        with torch.no_grad():
            for m in features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=gen)
                    nn.init.zeros_(m.bias)
    else:
        features.load_state_dict(state)
    features.eval()
    for p in features.parameters():
        p.requires_grad_(False)
    return features


_CACHE: dict[tuple, VGG19Backbone] = {}
_CACHE_LOCK = threading.Lock()


def load_vgg19(
    weights: str | os.PathLike | None = None,
    random_features: bool = False,
    seed: int = 0,
    device: str | torch.device | None = None,
    allow_download: bool = True,
) -> VGG19Backbone:
    """Load (and cache in memory) the VGG19 feature extractor.

    Order: ``random_features`` -> ``weights`` file -> ``$SINGANSEG_VGG19_WEIGHTS`` -> torchvision's
    ``VGG19_Weights.IMAGENET1K_V1`` (its cache, or a download when ``allow_download``). Raises
    ``VGGWeightsError`` with instructions when none works.
    """
    device = resolve_device(device)
    env = os.environ.get(WEIGHTS_ENV_VAR)
    if random_features:
        key: tuple = ("random", int(seed))
    elif weights is not None or env:
        p = Path(weights if weights is not None else env).expanduser().resolve()
        key = ("file", str(p), p.stat().st_mtime_ns if p.exists() else 0)
    else:
        key = ("torchvision",)
    key = key + (str(device),)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if random_features:
            features = _make_vgg19_features(None, seed)
            backbone = VGG19Backbone(features, f"random VGG19 weights (seed {seed}), NOT pretrained", True, int(seed))
        elif key[0] == "file":
            path = key[1]
            origin = "" if weights is not None else f" (from {WEIGHTS_ENV_VAR})"
            features = _make_vgg19_features(load_vgg19_state_dict(path), None)
            backbone = VGG19Backbone(features, f"VGG19 weights file {path}{origin}", False)
        else:
            features = _load_torchvision_features(allow_download)
            backbone = VGG19Backbone(features, "torchvision VGG19_Weights.IMAGENET1K_V1", False)
        backbone.features.to(device)
        _CACHE[key] = backbone
        return backbone


def _load_torchvision_features(allow_download: bool) -> nn.Sequential:
    import torchvision
    from torchvision.models import VGG19_Weights

    cached = _torchvision_weights_file()
    if not cached.is_file() and not allow_download:
        raise VGGWeightsError(f"Pretrained VGG19 weights are not in the torchvision cache ({cached}). " + _how_to_provide())
    try:
        with torch.random.fork_rng(devices=[]):  # its constructor draws random init weights
            model = torchvision.models.vgg19(weights=VGG19_Weights.IMAGENET1K_V1)
    except Exception as err:  # noqa: BLE001 - offline machines fail in many ways (URLError, OSError, ...)
        raise VGGWeightsError(
            f"Pretrained VGG19 weights are not in the torchvision cache ({cached}) and could not be "
            f"downloaded ({type(err).__name__}: {str(err)[:160]}). " + _how_to_provide()
        ) from None
    features = validate_vgg19_state_dict(model.features.state_dict(), "torchvision cache")
    return _make_vgg19_features(features, None)



def resolve_random_features(requested: bool | None = None) -> tuple[bool, str]:
    """The one "no pretrained VGG19 → random features" decision, with a sentence saying what was decided.

    ``True``: random features (tests, offline demos). ``False``: pretrained weights only (loading then fails with
    instructions when none are available). ``None`` (what the dashboard and its jobs use): pretrained weights when
    available without downloading, else random features, labelled so on every result.
    """
    if requested:
        return True, "random VGG19 features were asked for (results are NOT made with pretrained weights)"
    have, text = vgg_weights_status()
    if requested is None and not have:
        return True, "no pretrained VGG19 weights are available, so random features are used. " + text
    return False, text
