"""Warm start from a prior (``TrainConfig.init_from``, ``training.prior``): scales matched by index, the new
image's own pyramid and noise, recorded with the prior's hash, reproducible, resumable, and refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from singanseg_core.errors import Cancelled, InputError
from singanseg_core.model import SinGANSeg
from singanseg_core.training import TrainConfig, train
from singanseg_core.training.prior import weights_hash
from tests.helpers import polyp

PRIOR_STEM, STEM = "cju2zp89k9q1g0855k1x0f1xa", "cju13cgqmnhwn0988yrainhcp"
CFG = TrainConfig.from_preset("tiny", max_size=32, niter=3, nfc=8, max_nfc=8, seed=5)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cfg(**changes) -> TrainConfig:
    return TrainConfig.from_dict({**CFG.to_dict(), **changes}).validated()


def _convs(model: SinGANSeg) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if k.startswith("generators.") and k.endswith("weight")}


@pytest.fixture(scope="module")
def prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prior") / "prior"
    train(*polyp(PRIOR_STEM), out, CFG, device="cpu")
    return out


def test_each_scale_starts_from_the_priors_scale_of_that_index(prior: Path, tmp_path) -> None:
    still = dict(lr_g=1e-8, lr_d=1e-8)             # the weights barely move: what they started from shows
    warm = train(*polyp(STEM), tmp_path / "warm", _cfg(init_from=str(prior), **still), device="cpu")
    cold = train(*polyp(STEM), tmp_path / "cold", _cfg(**still), device="cpu")
    p = SinGANSeg.from_pretrained(prior)
    assert warm.num_scales == p.num_scales
    for key, w in _convs(warm).items():
        assert torch.allclose(w, _convs(p)[key], atol=1e-5), key
        if key.startswith("generators.0."):
            assert not torch.allclose(_convs(cold)[key], _convs(p)[key], atol=1e-3), key
    # the new image's own pyramid, z_opt and noise amplitudes
    assert torch.equal(warm.reals[-1], cold.reals[-1]) and not torch.equal(warm.reals[-1], p.reals[-1])
    assert warm.config.noise_amp != p.config.noise_amp
    recorded = json.loads((tmp_path / "warm" / "config.json").read_text())["train"]["init_from"]
    assert recorded == {"path": str(prior), "content_hash": weights_hash(prior)}
    assert "init_from" not in json.loads((tmp_path / "cold" / "config.json").read_text())["train"]


def test_warm_start_is_reproducible_and_resumes_exactly(prior: Path, tmp_path) -> None:
    cfg = _cfg(init_from=str(prior))
    whole = train(*polyp(STEM), tmp_path / "a", cfg, device="cpu")
    again = train(*polyp(STEM), tmp_path / "b", cfg, device="cpu")
    with pytest.raises(Cancelled):
        train(*polyp(STEM), tmp_path / "c", cfg, device="cpu", progress=lambda ev: not ev.scale_done)
    resumed = train(*polyp(STEM), tmp_path / "c", cfg, device="cpu", resume=True)
    for other in (again, resumed):
        a, b = whole.state_dict(), other.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_changed_or_dropped_prior_does_not_resume(prior: Path, tmp_path) -> None:
    copy = tmp_path / "prior_copy"
    copy.mkdir()
    for f in prior.iterdir():
        if f.is_file():
            (copy / f.name).write_bytes(f.read_bytes())
    cfg = _cfg(init_from=str(copy))
    with pytest.raises(Cancelled):
        train(*polyp(STEM), tmp_path / "m", cfg, device="cpu", progress=lambda ev: not ev.scale_done)
    with pytest.raises(InputError, match="init_from"):   # the settings differ: resume_point names the field
        train(*polyp(STEM), tmp_path / "m", CFG, device="cpu", resume=True)
    tensors = load_file(str(copy / "model.safetensors"))
    key = next(k for k in tensors if k.startswith("generators.0.") and k.endswith("weight"))
    tensors[key] = tensors[key] * 1.5
    save_file(tensors, str(copy / "model.safetensors"))
    with pytest.raises(InputError, match="changed since the partial checkpoint started from it"):
        train(*polyp(STEM), tmp_path / "m", cfg, device="cpu", resume=True)


@pytest.mark.parametrize("changes, words", [
    (dict(nfc=16, max_nfc=16), "another kind: its nfc at scale 0 is 8, this model's is 16"),
    (dict(num_layer=4), "another kind: its layers is 5, this model's is 4"),
    (dict(nc_im=3), "another kind: its channels is 4, this model's is 3"),
])
def test_a_prior_of_another_kind_is_refused_naming_the_mismatch(prior: Path, tmp_path, changes, words) -> None:
    with pytest.raises(InputError, match=words):
        train(*polyp(STEM), tmp_path / "x", _cfg(init_from=str(prior), **changes), device="cpu")
    assert not (tmp_path / "x").exists()


def test_bad_priors_are_refused(prior: Path, tmp_path) -> None:
    with pytest.raises(InputError, match="no checkpoint there"):
        train(*polyp(STEM), tmp_path / "x", _cfg(init_from=str(tmp_path / "nowhere")), device="cpu")
    bad = tmp_path / "nan_prior"
    bad.mkdir()
    for f in prior.iterdir():
        if f.is_file():
            (bad / f.name).write_bytes(f.read_bytes())
    tensors = load_file(str(bad / "model.safetensors"))
    key = next(k for k in tensors if k.startswith("generators.1.") and k.endswith("weight"))
    tensors[key][0, 0, 0, 0] = float("nan")
    save_file(tensors, str(bad / "model.safetensors"))
    with pytest.raises(InputError, match=f"prior {bad}: .*NaN or infinite"):
        train(*polyp(STEM), tmp_path / "y", _cfg(init_from=str(bad)), device="cpu")
    with pytest.raises(InputError, match="cannot start from its own folder"):
        train(*polyp(STEM), prior, _cfg(init_from=str(prior)), device="cpu", overwrite=True)
    with pytest.raises(InputError, match="init_from must be a checkpoint folder"):
        _cfg(init_from="  ")
    with pytest.raises(InputError, match="sequential schedule"):
        train(*polyp(STEM), tmp_path / "z", _cfg(init_from=str(prior), schedule="concurrent"), device="cpu")


def _dataset(root: Path, stems: list[str]) -> Path:
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for stem in stems:
        img, msk = polyp(stem)
        (root / "images" / img.name).symlink_to(img)
        (root / "masks" / msk.name).symlink_to(msk)
    return root


def test_train_many_auto_prior_starts_every_other_model_from_the_named_pair(tmp_path) -> None:
    from singanseg_core.training.many import train_many

    data = _dataset(tmp_path / "data", [PRIOR_STEM, STEM])
    out = tmp_path / "out"
    summary = train_many(data, out, CFG, device="cpu", prior="auto", prior_pair=STEM, finetune_iters=2)
    assert sorted(summary.trained) == sorted([PRIOR_STEM, STEM]) and not summary.failed
    own = json.loads((out / STEM / "config.json").read_text())["train"]
    tuned = json.loads((out / PRIOR_STEM / "config.json").read_text())["train"]
    assert "init_from" not in own and own["config"]["niter"] == CFG.niter
    assert tuned["init_from"] == {"path": str(out / STEM), "content_hash": weights_hash(out / STEM)}
    assert tuned["config"]["niter"] == 2
    with pytest.raises(InputError, match="--prior-pair 'nope' is not a pair"):
        train_many(data, tmp_path / "o2", CFG, device="cpu", prior="auto", prior_pair="nope")
    with pytest.raises(InputError, match="need --prior"):
        train_many(data, tmp_path / "o3", CFG, device="cpu", finetune_iters=2)


def test_a_training_job_cannot_name_a_prior_path(demo_ws) -> None:
    from singanseg_core.services.job_tasks import validate

    ws = demo_ws
    dataset = next(p.name for p in ws.datasets.iterdir() if p.is_dir())
    args = {"dataset": dataset, "stems": [], "preset": "tiny", "overrides": {"init_from": "/etc"}}
    with pytest.raises(InputError, match="names its warm start by checkpoint"):
        validate(ws, "train", args)
