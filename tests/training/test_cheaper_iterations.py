"""Cheaper iterations, each an explicit option: lazy regularisation (``gp_every``), fewer discriminator steps
(``d_steps``) with two learning rates (``lr_d`` / ``lr_g``). Each changes what it says and nothing else."""

from __future__ import annotations

import pytest
import torch

from singanseg_core.errors import InputError
from singanseg_core.training import TrainConfig, train
from singanseg_core.training import trainer as trainer_module
from singanseg_core.training.draws import SeededDraws
from singanseg_core.training.trainer import gp_due
from tests.helpers import polyp

STEM = "cju2zp89k9q1g0855k1x0f1xa"
CFG = TrainConfig.from_preset("tiny", max_size=32, niter=4, nfc=8, max_nfc=8, seed=5)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_gp_due_counts_critic_steps_over_iterations() -> None:
    assert [gp_due(CFG, e, j) for e in range(2) for j in range(3)] == [True] * 6
    lazy = TrainConfig(gp_every=2, d_steps=3)
    assert [gp_due(lazy, e, j) for e in range(2) for j in range(3)] == [True, False, True, False, True, False]
    one = TrainConfig(gp_every=4, d_steps=1)
    assert [gp_due(one, e, 0) for e in range(8)] == [True, False, False, False] * 2


def test_gp_every_is_validated() -> None:
    with pytest.raises(InputError, match="gp_every"):
        TrainConfig(gp_every=0).validated()
    with pytest.raises(InputError, match="gp_every"):
        TrainConfig(gp_every=1.5).validated()


def _run(tmp_path, cfg: TrainConfig, monkeypatch: pytest.MonkeyPatch, penalty: float | None = None):
    """Train ``cfg`` on a small polyp; returns (draw calls, logged gp of each iteration of scale 0, penalties
    computed, generator weights)."""
    calls: list[tuple] = []
    computed: list[int] = []
    real_gp = trainer_module.gradient_penalty

    class Recorded(SeededDraws):
        def gp_mix(self, epoch, step):
            calls.append(("gp_mix", epoch, step))
            return super().gp_mix(epoch, step)

        def noise(self, epoch, channels, size):
            calls.append(("noise", epoch))
            return super().noise(epoch, channels, size)

    def spy_gp(*args, **kwargs):
        computed.append(1)
        out = real_gp(*args, **kwargs)
        return torch.full_like(out, penalty) if penalty is not None else out

    monkeypatch.setattr(trainer_module, "gradient_penalty", spy_gp)
    logged: list[float] = []

    def progress(ev):
        if ev.losses and ev.scale == 0:
            logged.append(ev.losses[0]["gp"])

    img, mask = polyp(STEM)
    model = train(img, mask, tmp_path, cfg, progress=progress, device="cpu",
                  draws=lambda n: Recorded([cfg.seed], n, "cpu"))
    weights = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("generators.")}
    return calls, logged, len(computed), weights


def test_lazy_regularisation_skips_and_scales_the_penalty_only(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    base_calls, base_logged, base_n, base_w = _run(tmp_path / "a", CFG, monkeypatch, penalty=0.25)
    lazy = TrainConfig.from_dict({**CFG.to_dict(), "gp_every": 2})
    calls, logged, n, weights = _run(tmp_path / "b", lazy, monkeypatch, penalty=0.25)
    assert calls == base_calls                         # every random draw is where it was
    assert n * 2 == base_n                             # half the critic steps pay for the penalty
    # logged: iterations 1 and 4, the last critic step's gp (3 steps each): steps 2 (due) and 11 (not due)
    assert base_logged == [0.25, 0.25]
    assert logged == [0.5, 0.0]                        # scaled by k where due, absent elsewhere
    assert all(torch.equal(weights[k], base_w[k]) for k in base_w)   # a constant penalty has no gradient


def test_gp_every_one_is_the_default_bit_for_bit(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = TrainConfig.from_dict({**CFG.to_dict(), "gp_every": 1})
    assert explicit == CFG
    _, _, _, a = _run(tmp_path / "a", CFG, monkeypatch)
    _, _, _, b = _run(tmp_path / "b", explicit, monkeypatch)
    assert all(torch.equal(a[k], b[k]) for k in a)
    _, _, _, lazy = _run(tmp_path / "c", TrainConfig.from_dict({**CFG.to_dict(), "gp_every": 2}), monkeypatch)
    assert any(not torch.equal(a[k], lazy[k]) for k in a)    # with the real penalty, skipping it shows


def test_fewer_critic_steps_and_two_learning_rates_reach_the_optimisers(tmp_path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[float, float]] = []
    steps: list[int] = []
    real = trainer_module.adversarial_iteration

    def spy(netD, real_img, k, cfg, run, optD, optG, *args, **kwargs):
        seen.append((optD.param_groups[0]["lr"], optG.param_groups[0]["lr"]))
        before = sum(int(s["step"]) for s in optD.state.values()) if optD.state else 0
        out = real(netD, real_img, k, cfg, run, optD, optG, *args, **kwargs)
        steps.append(sum(int(s["step"]) for s in optD.state.values()) - before)
        return out

    monkeypatch.setattr(trainer_module, "adversarial_iteration", spy)
    cfg = TrainConfig.from_dict({**CFG.to_dict(), "d_steps": 1, "lr_d": 1e-3, "lr_g": 2.5e-4})
    img, mask = polyp(STEM)
    train(img, mask, tmp_path, cfg, device="cpu")
    assert set(seen) == {(1e-3, 2.5e-4)}
    n_params = len(list(trainer_module.Discriminator(4, 8, 3, 5).parameters()))
    assert set(steps) == {n_params}                    # one critic step per iteration
