"""Our trainer against the authors' own code (``singan-seg-polyp==1.0.7``), replayed from identical states.

``tests/golden/make_golden.py`` ran their ``training.train`` on a tiny 4-channel input (5 scales; scales 1-3 inherit
the previous scale's G and D, scale 4 doubles nfc and starts fresh) and recorded, per scale: the G and D states on
entry, every random draw by meaning, and everything the scale ended with. Here each scale is trained by our
``training.trainer.train_scale`` from the same entry state, with the original's frozen lower scales and the same
draws (``ReplayDraws``), and everything it ends with is compared.

Tolerances: the computations are the same up to float32 summation order (ours sums the three D losses before one
backward, computes the repeated G pass once, batches frozen generators); the losses of each scale's first epochs
agree to ~1e-8. Adam turns such noise into visible differences wherever a gradient element is itself ~0: its
normalised step ``m / sqrt(v)`` is then ±1 whatever the noise, i.e. ±lr per step. That is always the case for the
conv biases in front of BatchNorm (BatchNorm subtracts the mean, so their true gradient is exactly 0; they never
change a train-mode output) and, at a fresh scale, for a few weight elements. Hence: weights and BatchNorm running
statistics within ``0.25 * lr`` (seen <= 0.13 lr; scales 0-3 agree to 1e-7), the biases before BatchNorm and the
running means that average them in within ``2 * steps * lr``; Adam's moments, which carry the gradient magnitudes
the normalised step hides, within 5 % of each tensor's largest moment (the scale of the gradients: a changed loss
weight or layer changes them by far more); BatchNorm update counts, the noise amplitude (1e-6) and z_opt exact.
"""

from __future__ import annotations

import pytest
import torch

from singanseg_core.networks.singan import Discriminator, Generator
from singanseg_core.training.config import TrainConfig
from singanseg_core.training.trainer import FrozenPyramid, channel_vector, lr_milestone, train_scale

from tests.golden.replay import ScaleReference, load_training_reference

REF = load_training_reference()
CFG = TrainConfig(**REF.train_config_kwargs(), seed=0)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ReplayDraws:
    """``training.draws.ScaleDraws`` that hands out the original's recorded draws (one model, K = 1)."""

    def __init__(self, ref: ScaleReference) -> None:
        self.ref = ref

    def z_opt(self, epoch: int, size: tuple[int, int]) -> torch.Tensor:
        return self.ref.z_opt_draw(epoch)                                   # (1, 1, h, w)

    def noise(self, epoch: int, channels: int, size: tuple[int, int]) -> torch.Tensor:
        z = self.ref.noise(epoch)
        assert z.shape[1] == channels and tuple(z.shape[2:]) == tuple(size)
        return z                                                             # (K=1, c, h, w)

    def prev_noise(self, epochs: range, d_steps: int, lower: int, channels: int,
                   size: tuple[int, int]) -> torch.Tensor:
        draws = [self.ref.prev_draws(e, j)[lower] for e in epochs for j in range(d_steps)]
        return torch.cat(draws).unsqueeze(0)                                 # (1, B, c, h, w)

    def gp_mix(self, epoch: int, step: int) -> torch.Tensor:
        return self.ref.alpha(epoch, step).reshape(1)


def _net(cls, state: dict[str, torch.Tensor], nfc: int):
    net = cls(CFG.nc_im, nfc, CFG.ker_size, CFG.num_layer)
    net.load_state_dict({k: v.clone() for k, v in state.items()})
    return net


def _replay(n: int, log: list | None = None):
    """Train scale ``n`` as the original did: its frozen scales below, its entry states, its draws."""
    ref = REF.scales[n]
    frozen = [_net(Generator, REF.scales[i].final_G, REF.scales[i].nfc).eval().requires_grad_(False) for i in range(n)]
    z_opts = [REF.scales[i].z_opt.float() for i in range(n)]                # their bool zeros above scale 0
    amps = [channel_vector(torch.tensor([REF.scales[i].noise_amp]), CFG.nc_z) for i in range(n)]
    pyramid = FrozenPyramid(frozen, z_opts, REF.reals[:n + 1], amps, CFG, REF.scale_factor)
    netG, netD = _net(Generator, ref.init_G, ref.nfc).train(), _net(Discriminator, ref.init_D, ref.nfc).train()

    def progress(ev):
        if log is not None:
            log.append(ev.losses[0])

    result = train_scale(n, netG, netD, pyramid, CFG, ReplayDraws(ref), len(REF.scales), ["golden"], progress,
                         log_every=1)
    return ref, netG, netD, result


def _bias_before_bn(key: str) -> bool:
    return key.endswith("conv.bias")  # head / body blocks: conv → BatchNorm (the tails have no BatchNorm)


@pytest.mark.parametrize("n", range(len(REF.scales)))
def test_one_scale_from_identical_state_matches_the_original(n: int) -> None:
    log: list[dict[str, float]] = []
    ref, netG, netD, result = _replay(n, log)
    for name, net, expected in (("G", netG, ref.final_G), ("D", netD, ref.final_D)):
        bound = 2 * CFG.niter * (CFG.lr_g if name == "G" else CFG.d_steps * CFG.lr_d)
        got = net.state_dict()
        assert got.keys() == expected.keys()
        for key, want in expected.items():
            have = got[key]
            if key.endswith("num_batches_tracked"):     # BatchNorm updates: the original's forward-pass count
                assert int(have) == int(want), f"{name}.{key}: {int(have)} BatchNorm updates, original {int(want)}"
            elif _bias_before_bn(key) or key.endswith("norm.running_mean"):
                assert (have - want).abs().max() <= bound, f"{name}.{key}"
            else:
                torch.testing.assert_close(have, want, rtol=1e-4, atol=0.25 * CFG.lr_g, msg=f"{name}.{key}")
    for name, opt, expected in (("G", result.opt_g, ref.adam_G), ("D", result.opt_d, ref.adam_D)):
        net = netG if name == "G" else netD
        for (key, param) in net.named_parameters():
            state = opt.state[param]
            assert int(state["step"]) == int(expected[key]["step"]), f"Adam {name}.{key} step"
            for moment in ("exp_avg", "exp_avg_sq"):
                want = expected[key][moment]
                if _bias_before_bn(key):
                    assert state[moment].abs().max() < 1e-5, f"Adam {name}.{key}.{moment} is not noise"
                else:
                    torch.testing.assert_close(state[moment], want, rtol=1e-3, atol=0.05 * float(want.abs().max()),
                                               msg=f"Adam {name}.{key}.{moment}")
    assert result.noise_amp[0] == pytest.approx(ref.noise_amp, rel=1e-6, abs=0)
    torch.testing.assert_close(result.z_opt, ref.z_opt.float(), rtol=0, atol=0)
    # losses of every epoch (ours reports the last D step's values; signs as in trainer.TrainProgress)
    assert len(log) == ref.niter
    for epoch, (ours, theirs) in enumerate(zip(log, ref.losses)):
        pairs = [(ours["d_real"], -theirs["errD_real"][-1]), (ours["d_fake"], theirs["errD_fake"][-1]),
                 (ours["gp"], theirs["gradient_penalty"][-1]), (ours["g_adv"], theirs["errG"]),
                 (ours["rec"], theirs["rec_loss"])]
        # epoch 0 starts from the identical state: summation order only; later epochs inherit the Adam noise above
        rel = 1e-5 if epoch == 0 else 5e-3
        for (a, b), what in zip(pairs, ("d_real", "d_fake", "gp", "g_adv", "rec")):
            assert a == pytest.approx(b, rel=rel, abs=1e-7), f"scale {n} epoch {epoch} {what}"


def test_random_prev_images_match_the_original() -> None:
    """Our frozen pyramid, fed the original's draws, builds the original's random 'prev' and reconstruction inputs
    (with the uint8 round trip of its resizing, exactly or within one grey level where float sums differ)."""
    for n in range(1, len(REF.scales)):
        ref = REF.scales[n]
        frozen = [_net(Generator, REF.scales[i].final_G, REF.scales[i].nfc).eval() for i in range(n)]
        z_opts = [REF.scales[i].z_opt.float() for i in range(n)]
        amps = [channel_vector(torch.tensor([REF.scales[i].noise_amp]), CFG.nc_z) for i in range(n)]
        pyramid = FrozenPyramid(frozen, z_opts, REF.reals[:n + 1], amps, CFG, REF.scale_factor)
        draws = ReplayDraws(ref)
        prev = pyramid.run(n, CFG.d_steps, lambda i, c, size: draws.prev_noise(range(0, 1), CFG.d_steps, i, c, size))
        for j in range(CFG.d_steps):
            torch.testing.assert_close(prev[j:j + 1], ref.prevs[(0, j)], rtol=0, atol=2 / 255 + 1e-6)
        torch.testing.assert_close(pyramid.run(n, 1, None), ref.z_prev, rtol=0, atol=2 / 255 + 1e-6)


def test_learning_rate_schedule_matches_the_original() -> None:
    """Their MultiStepLR drops both learning rates by gamma at epoch 1600 (an absolute epoch, whatever niter is);
    ours by default at ``lr_drop_epoch`` = 1600, also for the recorded 3-epoch run (no drop)."""
    milestones, gamma = REF.scales[0].milestones, REF.scales[0].gamma
    paper = TrainConfig()
    assert [lr_milestone(TrainConfig(niter=3))] == milestones
    assert [lr_milestone(paper)] == milestones and paper.gamma == gamma
    for ref in REF.scales:  # and within the recorded run (no drop in 3 epochs), epoch by epoch
        assert ref.lr_G == ref.lr_D == [CFG.lr_g] * ref.niter
