"""The faster paths: each an explicit option, off by default, checked for correctness (not speed).

Reduced precision (``device.autocast_dtype``) for training, sampling and style transfer; the compiled sampler
(BatchNorm folded, ``torch.compile``) and compiled training; the concurrent training schedule. With every option
off the engine is unchanged: ``tests/golden/test_golden*.py`` and ``tests/training/test_trainer.py`` hold it bit for bit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from singanseg_core import device as device_rule
from singanseg_core.cli.commands._common import train_config_from_args
from singanseg_core.cli.main import build_parser, main
from singanseg_core.errors import InputError
from singanseg_core.model import SinGANSeg
from singanseg_core import device as device_module
from singanseg_core.networks.singan import fold_batchnorm
from singanseg_core.style.config import StyleTransferConfig
from singanseg_core.style.transfer import resolve_precision
from singanseg_core.training import TrainConfig, train
from singanseg_core.training import trainer as trainer_module
from singanseg_core.training.trainer import build_scale_nets
from tests.helpers import polyp

STEM = "cju2zp89k9q1g0855k1x0f1xa"
CFG = TrainConfig.from_preset("tiny", max_size=32, niter=4, nfc=8, max_nfc=8, seed=5)
HAS_BF16 = device_rule.cpu_has_bf16()

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _weights(model: SinGANSeg) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if k.startswith("generators.")}


# ---------------------------------------------------------------------------------------------- the device rule
def test_autocast_dtype_is_the_one_precision_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert device_rule.autocast_dtype("cpu", "fp32") is None
    with pytest.raises(InputError, match="fp16 needs a CUDA GPU"):
        device_rule.autocast_dtype("cpu", "fp16")
    with pytest.raises(InputError, match="precision 'fp64' is not one of fp32, bf16, fp16"):
        device_rule.autocast_dtype("cpu", "fp64")
    monkeypatch.setattr(device_rule, "cpu_has_bf16", lambda: False)
    with pytest.raises(InputError, match="no native bf16"):
        device_rule.autocast_dtype("cpu", "bf16")
    monkeypatch.setattr(device_rule, "cpu_has_bf16", lambda: True)
    assert device_rule.autocast_dtype("cpu", "bf16") is torch.bfloat16
    assert isinstance(device_rule.autocast("cpu", "bf16"), torch.autocast)


def test_style_precision_goes_through_the_device_rule() -> None:
    with pytest.raises(InputError, match="fp16 needs a CUDA GPU"):
        resolve_precision("fp16", torch.device("cpu"))
    assert StyleTransferConfig(precision="fp16").validated().precision == "fp16"
    with pytest.raises(InputError, match="precision 'fp8'"):
        StyleTransferConfig(precision="fp8").validated()  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- config and CLI
@pytest.mark.parametrize("field, bad, words", [
    ("precision", "fp64", "precision must be one of fp32, bf16, fp16"),
    ("compile", "yes", "compile must be true or false"),
    ("schedule", "fast", "schedule must be one of sequential, concurrent"),
    ("concurrent_depth", 0, "concurrent_depth must be an integer in 1..16"),
    ("concurrent_lr_scale", 1.5, "concurrent_lr_scale must be a number in 0..1"),
    ("lr_drop_at", 1.5, "lr_drop_at must be a number in 0..1"),
    ("lr_drop_epoch", 0, "lr_drop_epoch must be an integer in 1..1000000"),
])
def test_each_option_is_validated(field: str, bad: object, words: str) -> None:
    with pytest.raises(InputError, match=words):
        replace(TrainConfig(), **{field: bad}).validated()
    with pytest.raises(InputError, match=words):
        TrainConfig.from_preset("quick", **{field: bad})


def test_defaults_are_off_and_the_concurrent_pyramid_has_fewer_scales() -> None:
    cfg = TrainConfig()
    assert (cfg.precision, cfg.compile, cfg.schedule) == ("fp32", False, "sequential")
    assert cfg.pyramid_scale_factor == cfg.scale_factor
    assert replace(cfg, schedule="concurrent").pyramid_scale_factor == pytest.approx(cfg.scale_factor ** 2)


def test_cli_options_reach_the_config(capsys: pytest.CaptureFixture) -> None:
    args = build_parser().parse_args(["train", "--image", "i", "--out", "o", "--preset", "tiny", "--precision",
                                      "bf16", "--compile", "--schedule", "concurrent", "--concurrent-depth", "2",
                                      "--concurrent-lr-scale", "0.5"])
    cfg = train_config_from_args(args)
    assert (cfg.precision, cfg.compile, cfg.schedule, cfg.concurrent_depth, cfg.concurrent_lr_scale) == \
        ("bf16", True, "concurrent", 2, 0.5)
    plain = train_config_from_args(build_parser().parse_args(["train", "--image", "i", "--out", "o"]))
    assert plain == TrainConfig()
    code = main(["sample", "--checkpoint", "nowhere", "--out", "o", "--precision", "fp16", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == ["error: precision fp16 is not supported on device cpu (fp16 needs a CUDA GPU)"]


# ---------------------------------------------------------------------------------------------- reduced precision
@pytest.fixture(scope="module")
def fp32_model(tmp_path_factory: pytest.TempPathFactory) -> SinGANSeg:
    return train(*polyp(STEM), tmp_path_factory.mktemp("fp32") / "m", CFG, device="cpu")


def test_bf16_training_runs_and_stays_close_to_fp32(fp32_model: SinGANSeg, tmp_path) -> None:
    """bf16 autocast (8-bit mantissa) for the convolutions, float32 losses and gradient penalty. Tolerance, after
    4 iterations per scale: scale 0's weight update (trained - init, the same seeded init) points the same way as
    the fp32 run's (cosine > 0.9, measured 0.97) and differs by < 50 % of its norm (measured 26 %); the
    reconstruction is within 0.05 on [-1, 1] everywhere (measured 0.01)."""
    cfg = replace(CFG, precision="bf16")
    if not HAS_BF16:  # the hardware rule, not a skip: training refuses before touching the folder
        with pytest.raises(InputError, match="no native bf16"):
            train(*polyp(STEM), tmp_path / "m", cfg, device="cpu")
        assert not (tmp_path / "m").exists()
        return
    model = train(*polyp(STEM), tmp_path / "m", cfg, device="cpu")
    assert all(v.dtype == fp32_model.state_dict()[k].dtype for k, v in model.state_dict().items())  # float32 kept
    g0, _ = build_scale_nets(CFG, CFG.nfc, CFG.seed, 0)
    init = torch.cat([p.flatten() for p in g0.parameters()]).detach()
    a = torch.cat([p.flatten() for p in fp32_model.generators[0].parameters()]) - init
    b = torch.cat([p.flatten() for p in model.generators[0].parameters()]) - init
    assert float(torch.nn.functional.cosine_similarity(a, b, dim=0)) > 0.9
    assert 0 < float((a - b).norm()) < 0.5 * float(a.norm())
    assert float((model.reconstruct() - fp32_model.reconstruct()).abs().max()) < 0.05
    assert SinGANSeg.from_pretrained(tmp_path / "m").config.train["config"]["precision"] == "bf16"


def test_bf16_sampling_is_close_to_fp32(fp32_model: SinGANSeg) -> None:
    """Same noise, bf16 generators. Tolerance: images mean |diff| ≤ 1 grey level of 255 and worst ≤ 10 (measured
    0.08 and 2), masks agree on ≥ 98 % of pixels (measured 99.5 %)."""
    if not HAS_BF16:
        with pytest.raises(InputError, match="no native bf16"):
            fp32_model.sample(2, seed=1, precision="bf16")
        return
    ref = fp32_model.sample(6, seed=1)
    got = fp32_model.sample(6, seed=1, precision="bf16")
    diff = np.abs(ref.images.astype(int) - got.images.astype(int))
    assert diff.mean() <= 1 and diff.max() <= 10, (diff.mean(), diff.max())
    assert (ref.masks == got.masks).mean() >= 0.98
    assert not np.array_equal(ref.images, got.images)  # the option really changed the arithmetic


def test_fp32_precision_argument_is_the_default_path(fp32_model: SinGANSeg) -> None:
    a, b = fp32_model.sample(3, seed=2), fp32_model.sample(3, seed=2, precision="fp32")
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)


# ---------------------------------------------------------------------------------------------- compiled paths
@pytest.mark.slow
def test_folded_and_compiled_generators_equal_the_eager_ones(fp32_model: SinGANSeg) -> None:
    """BatchNorm folded into the convs is the same function to float rounding (1e-5), and so is the folded
    generator under torch.compile with inductor (the backend the compiled sampler uses; one generator, as
    compiling takes ~10 s here)."""
    for i, g in enumerate(fp32_model.generators):
        z = torch.randn(2, 4, 24, 30, generator=torch.Generator().manual_seed(i))  # any size: fully convolutional
        with torch.no_grad():
            assert torch.allclose(fold_batchnorm(g)(z, z), g(z, z), atol=1e-5)
    g = fp32_model.generators[-1]
    h, w = fp32_model.scale_sizes[-1]
    z = torch.randn(3, 4, h + 10, w + 10, generator=torch.Generator().manual_seed(9))
    compiled = torch.compile(fold_batchnorm(g).to(memory_format=torch.channels_last), backend="inductor")
    with torch.no_grad():
        out = compiled(z.contiguous(memory_format=torch.channels_last), z)
        assert torch.allclose(out, g(z, z), atol=1e-4), float((out - g(z, z)).abs().max())


@pytest.mark.slow
def test_compiled_sampler_equals_the_eager_one(fp32_model: SinGANSeg, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sample(compile=True)`` runs the folded, compiled generators (here through the ``aot_eager`` backend:
    the same graphs without code generation, seconds instead of a minute on 2 cores): raw outputs within 1e-4
    of eager with the float resize; with the faithful uint8 round trip a pixel may move by a grey level, rarely,
    and the option off stays exact."""
    monkeypatch.setattr(device_module, "COMPILE_BACKEND", "aot_eager")
    fast = SinGANSeg(replace(fp32_model.config, faithful_resize=False), fp32_model.generators, fp32_model.z_opt,
                     fp32_model.reals)
    noise = fast.draw_noise(3, torch.Generator().manual_seed(0))
    eager = fast.generate(noise)
    compiled = fast.generate(noise, compile=True)
    assert all(not isinstance(m, torch.nn.BatchNorm2d) for g in fast.inference_generators(True) for m in g.modules())
    assert torch.allclose(compiled, eager, atol=1e-4), float((compiled - eager).abs().max())
    a = fp32_model.generate(noise)
    b = fp32_model.generate(noise, compile=True)
    assert torch.equal(a, fp32_model.generate(noise))
    assert float(((a - b).abs() > 1.5 / 127.5).float().mean()) < 0.01
    got = fp32_model.sample(2, seed=4, compile=True)
    assert got.images.shape == fp32_model.sample(2, seed=4).images.shape


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``compile=True`` sends G and D (all but the gradient penalty's double-backward pass) through
    torch.compile; with the ``aot_eager`` backend (dynamo + AOT autograd, no code generation: seconds, not
    minutes, on 2 cores) the trained weights equal the eager run's to float rounding (1e-4)."""
    calls = []
    real_compile = torch.compile

    def counting(module, **kw):
        calls.append(type(module).__name__)
        return real_compile(module, **kw)

    cfg = replace(CFG, min_size=20, max_size=26, niter=2)  # two scales
    eager = train(*polyp(STEM), tmp_path / "eager", cfg, device="cpu")
    monkeypatch.setattr(device_module, "COMPILE_BACKEND", "aot_eager")
    monkeypatch.setattr(torch, "compile", counting)
    model = train(*polyp(STEM), tmp_path / "m", replace(cfg, compile=True), device="cpu")
    assert {"Generator", "Discriminator"} <= set(calls)
    ref, got = _weights(eager), _weights(model)
    worst = max(float((ref[k].float() - got[k].float()).abs().max()) for k in ref if "num_batches" not in k)
    assert worst < 1e-4, worst
    assert not torch.equal(ref["generators.0.head.conv.weight"], build_scale_nets(cfg, cfg.nfc, cfg.seed, 0)[0]
                           .state_dict()["head.conv.weight"])  # it trained


# ---------------------------------------------------------------------------------------------- concurrent schedule
CONC = replace(CFG, schedule="concurrent", min_size=15, max_size=40, niter=6)


@pytest.fixture(scope="module")
def concurrent_model(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("conc") / "m"
    snapshots = []

    def progress(ev):
        if ev.scale_done:
            snapshots.append(SinGANSeg.from_pretrained(out).state_dict())

    return out, train(*polyp(STEM), out, CONC, device="cpu", progress=progress), snapshots


def test_concurrent_schedule_makes_a_normal_checkpoint(concurrent_model) -> None:
    out, model, _ = concurrent_model
    sequential_scales = len(train_schedule(replace(CONC, schedule="sequential")).sizes)
    assert 2 <= model.num_scales < sequential_scales
    loaded = SinGANSeg.from_pretrained(out)
    assert loaded.config.train["config"]["schedule"] == "concurrent"
    a, b = model.sample(4, seed=7), loaded.sample(4, seed=7)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert a.images.shape[1:3] == tuple(model.scale_sizes[-1])
    assert set(np.unique(a.masks)) <= {0, 255}
    for k in range(model.num_scales + 1):  # every start scale works through the usual API
        assert loaded.sample(1, k, seed=1).images.shape == a.images[:1].shape


def test_concurrent_stages_train_the_lower_generators_too(concurrent_model) -> None:
    """Stage n trains scales n-2..n together: scale 0's weights change after stage 0 (when stage 1 and 2 run),
    but not after it left the window (from stage 3 on, when there is one)."""
    _, model, snaps = concurrent_model
    key = "generators.0.head.conv.weight"
    assert not torch.equal(snaps[0][key], snaps[1][key])
    assert not torch.equal(snaps[1][key], snaps[2][key])
    for later in snaps[3:]:
        assert torch.equal(snaps[2][key], later[key])


def test_concurrent_lr_scale_zero_freezes_the_lower_convolutions(tmp_path) -> None:
    snaps = []
    out = tmp_path / "m"
    cfg = replace(CONC, concurrent_lr_scale=0.0, max_size=32, niter=3)
    train(*polyp(STEM), out, cfg, device="cpu",
          progress=lambda ev: snaps.append(SinGANSeg.from_pretrained(out).state_dict()) if ev.scale_done else None)
    assert len(snaps) >= 2
    for key in ("generators.0.head.conv.weight", "generators.0.tail.0.weight"):
        assert all(torch.equal(snaps[0][key], s[key]) for s in snaps[1:])


@pytest.mark.slow
def test_concurrent_schedule_is_deterministic_with_a_seed(concurrent_model, tmp_path) -> None:
    _, model, _ = concurrent_model
    again = train(*polyp(STEM), tmp_path / "again", CONC, device="cpu")
    other = train(*polyp(STEM), tmp_path / "other", replace(CONC, seed=6), device="cpu")
    ref = model.state_dict()
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in ref.items())
    assert not torch.equal(ref["generators.0.head.conv.weight"], other.state_dict()["generators.0.head.conv.weight"])


def test_concurrent_groups_are_refused_clearly(tmp_path) -> None:
    from singanseg_core.files.pairs import load_pair
    from singanseg_core.training import TrainItem, train_group

    pair = load_pair(*polyp(STEM))
    items = [TrainItem(pair, tmp_path / "a", CONC), TrainItem(pair, tmp_path / "b", replace(CONC, seed=9))]
    with pytest.raises(InputError, match="one model at a time"):
        train_group(items, "cpu")


def train_schedule(cfg: TrainConfig):
    from singanseg_core.files.pairs import load_pair
    from singanseg_core.training.fit import schedule_for

    return schedule_for(load_pair(*polyp(STEM)), cfg)


def test_compile_asks_torch_for_inductor_by_default(fp32_model: SinGANSeg, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unless a test swaps the backend, the compiled sampler and the compiled trainer both hand their networks
    to ``torch.compile`` with the inductor backend (the spy returns the module: nothing is compiled here)."""
    asked: list[tuple[str, str | None]] = []

    def spy(module: torch.nn.Module, **kw: object) -> torch.nn.Module:
        asked.append((type(module).__name__, kw.get("backend")))  # type: ignore[arg-type]
        return module

    monkeypatch.setattr(torch, "compile", spy)
    fresh = SinGANSeg(fp32_model.config, fp32_model.generators, fp32_model.z_opt, fp32_model.reals)
    fresh.inference_generators(True)
    trainer_module.Runner(replace(CFG, compile=True), torch.device("cpu")).net(fp32_model.generators[0])
    assert len(asked) == len(fp32_model.generators) + 1
    assert {backend for _, backend in asked} == {"inductor"}


def test_a_cancelled_concurrent_run_resumes_to_a_normal_checkpoint(tmp_path) -> None:
    from singanseg_core.errors import Cancelled

    out = tmp_path / "m"

    def stop_after_first_stage(ev):
        return False if ev.scale_done else None

    with pytest.raises(Cancelled):
        train(*polyp(STEM), out, CONC, device="cpu", progress=stop_after_first_stage)
    partial = SinGANSeg.from_pretrained(out)
    assert partial.config.num_trained == 1 < partial.config.total_scales
    model = train(*polyp(STEM), out, CONC, device="cpu", resume=True)
    assert model.num_scales == partial.config.total_scales
    loaded = SinGANSeg.from_pretrained(out)
    assert np.array_equal(loaded.sample(2, seed=3).images, model.sample(2, seed=3).images)
    # scale 0 was trained on in stages 1 and 2 after the resume, from the saved weights
    assert not torch.equal(partial.state_dict()["generators.0.head.conv.weight"],
                           loaded.state_dict()["generators.0.head.conv.weight"])


def test_concurrent_jobs_are_grouped_one_model_each() -> None:
    from singanseg_core.training.groups import ModelJob, make_groups

    def job(stem: str, cfg: TrainConfig) -> ModelJob:
        return ModelJob(stem, "i", "m", f"o/{stem}", cfg.to_dict(), 3, ((1, 1),), 0)

    seq = make_groups([job(f"s{i}", CFG) for i in range(4)], 4)
    conc = make_groups([job(f"c{i}", CONC) for i in range(4)], 4)
    assert [len(g) for g in seq] == [4] and [len(g) for g in conc] == [1, 1, 1, 1]


def test_sample_set_refuses_an_unsupported_precision_before_writing(fp32_model: SinGANSeg, tmp_path) -> None:
    from singanseg_core.sampling.writer import write_sample_set

    with pytest.raises(InputError, match="fp16 needs a CUDA GPU"):
        write_sample_set([fp32_model], tmp_path / "set", 2, precision="fp16")
    assert not (tmp_path / "set").exists()


def test_lr_drop_options_reach_the_trainer() -> None:
    """Default: the original's absolute milestone (1600, whatever niter is); ``--lr-drop-epoch`` moves it,
    ``--lr-drop-at`` switches to a fraction of niter; a config without ``lr_drop_at`` (None) validates."""
    from singanseg_core.training.trainer import lr_milestone

    def milestone(*extra: str) -> int:
        args = build_parser().parse_args(["train", "--image", "i", "--out", "o", "--preset", "quick", *extra])
        return lr_milestone(train_config_from_args(args))

    assert TrainConfig.from_preset("quick").validated().lr_drop_at is None
    assert milestone() == 1600 and milestone("--iters", "3000") == 1600
    assert milestone("--lr-drop-epoch", "100") == 100
    assert milestone("--lr-drop-at", "0.5") == 100 and milestone("--lr-drop-at", "0.5", "--iters", "50") == 25
