"""Style transfer (step 2). Every test uses ``random_features=True``: seeded random VGG19 weights,
because pretrained weights cannot be downloaded here. Tiny images and few steps keep it fast."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from singanseg_core.networks import vgg as vgg_net
from singanseg_core.style import config as st_config
from singanseg_core.style import folder as st_folder
from singanseg_core.style import transfer as st_transfer
from singanseg_core.style import vgg as st_vgg
from singanseg_core.errors import Cancelled, InputError, SinGANSegError
from tests.style.style_inputs import samples_folder as _samples, tiny_image as _img


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny images run as fast on one thread, and one thread does not stall when other jobs load the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


CONTENT = _img(32, 32, 1, smooth=True)
STYLE = _img(32, 32, 2)


def _run(**kw) -> st_transfer.StyleTransferResult:
    kw.setdefault("steps", 15)
    kw.setdefault("precision", "fp32")
    return st_transfer.transfer_style(kw.pop("content", CONTENT), kw.pop("style", STYLE), random_features=True, device="cpu", **kw)


# ---------------------------------------------------------------------------------------------
# Optimisation (random features)
# ---------------------------------------------------------------------------------------------


def test_style_loss_falls_over_steps_random_features():
    """Random VGG19 features: the style loss falls step after step (lr 0.05 to need fewer steps)."""
    res = _run(steps=20, lr=0.05)
    styles = [h["style"] for h in res.history]
    assert len(styles) == 20
    assert all(b < a for a, b in zip(styles, styles[1:]))
    assert styles[-1] < 0.5 * styles[0]
    assert res.content_loss > 0  # the image moved away from the content image
    assert res.random_features and "NOT pretrained" in res.metadata["weights"]


def test_higher_style_weight_ends_with_lower_style_loss_random_features():
    """Random VGG19 features: a higher style weight ends with a lower style loss (same steps).

    With random weights the conv5_1 content loss is tiny next to the style loss, so 1:1 and 1:1000
    are both style-dominated and end almost equal; 1:0.01 vs 1:1000 shows the effect.
    """
    weak = _run(ratio="1:0.01", steps=12, lr=0.05)
    strong = _run(ratio="1:1000", steps=12, lr=0.05)
    assert strong.style_loss < 0.95 * weak.style_loss
    assert strong.content_loss > weak.content_loss
    assert weak.metadata["ratio"] == "1:0.01" and strong.metadata["ratio"] == "1:1000"
    assert (strong.metadata["content_weight"], strong.metadata["style_weight"]) == (1.0, 1000.0)


def test_lbfgs_lowers_the_loss_random_features():
    """Random VGG19 features: L-BFGS within its evaluation budget beats the starting loss by far."""
    res = _run(optimizer="lbfgs", steps=15)
    assert res.steps_run <= 15
    assert res.total_loss < 0.1 * res.history[0]["total"]
    assert res.metadata["optimizer"] == "lbfgs" and res.metadata["lr"] == 1.0


def test_output_size_and_range_random_features():
    """Random VGG19 features: any size in, same size out; processing size is resized back."""
    content, style = _img(21, 45, 3), _img(50, 17, 4)  # odd sizes, style of another shape
    res = _run(content=content, style=style, steps=2)
    assert isinstance(res.image, Image.Image) and res.image.mode == "RGB"
    assert res.image.size == (45, 21)
    assert res.metadata["processing_size"] == [21, 45]

    res = _run(content=_img(40, 60, 5), style=style, steps=2, size=24)
    assert res.image.size == (60, 40)
    assert res.metadata["processing_size"] == [16, 24]

    t = torch.rand(3, 18, 26)
    res = _run(content=t, style=style, steps=2)
    assert isinstance(res.image, torch.Tensor) and res.image.shape == (3, 18, 26)
    assert float(res.image.min()) >= 0.0 and float(res.image.max()) <= 1.0
    assert not torch.equal(res.image, t)


def test_tiny_image_is_processed_at_minimum_size_random_features():
    """Random VGG19 features: an 8x12 image is processed at >= 16 px and returned at 8x12."""
    res = _run(content=_img(8, 12, 6), style=_img(8, 8, 7), steps=2)
    assert res.image.size == (12, 8)
    assert min(res.metadata["processing_size"]) == st_config.MIN_SIDE


def test_determinism_with_seed_random_features():
    """Random VGG19 features: same seed -> identical pixels; another seed -> other weights, other pixels."""
    a = np.asarray(_run(steps=5, seed=3).image)
    b = np.asarray(_run(steps=5, seed=3).image)
    c = np.asarray(_run(steps=5, seed=4).image)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.slow
def test_batch_equals_single_runs_with_adam_random_features():
    """Random VGG19 features: a batch of 3 pairs with Adam gives each image its single-image result."""
    contents = [_img(32, 32, 10 + i, smooth=True) for i in range(3)]
    styles = [_img(32, 32, 20 + i) for i in range(3)]
    cfg = st_config.StyleTransferConfig(steps=6, precision="fp32")
    batch = st_transfer.transfer_style_batch(contents, styles, cfg, random_features=True, device="cpu")
    for i in range(3):
        single = st_transfer.transfer_style_batch([contents[i]], [styles[i]], cfg, random_features=True, device="cpu")[0]
        diff = np.abs(np.asarray(batch[i].image, dtype=int) - np.asarray(single.image, dtype=int))
        assert diff.max() <= 1  # equal up to float rounding at the uint8 boundary
        assert batch[i].style_loss == pytest.approx(single.style_loss, rel=1e-3)
    assert batch[0].metadata["batch"] == 3


@pytest.mark.slow
def test_progress_cancel_and_early_stop_random_features():
    """Random VGG19 features: progress sees every step; returning False cancels; early stop on a plateau."""
    seen = []
    _run(steps=4, progress=lambda step, losses: seen.append((step, sorted(losses))))
    assert [s for s, _ in seen] == [1, 2, 3, 4]
    assert seen[0][1] == ["content", "style", "total"]

    with pytest.raises(Cancelled):
        _run(steps=50, progress=lambda step, losses: step < 3 and None)

    # lr 0: the loss never improves, so early stop ends after `patience` steps.
    res = _run(steps=40, lr=0.0, early_stop=True, early_stop_patience=5)
    assert res.steps_run == 6 and res.metadata["stopped_early"]
    res = _run(steps=8, lr=0.0)  # off by default
    assert res.steps_run == 8


def test_bf16_precision_tracks_fp32_random_features():
    """Random VGG19 features: bf16 autocast ends within 10 % of the fp32 style loss."""
    a = _run(steps=15, precision="fp32")
    b = _run(steps=15, precision="bf16")
    assert b.metadata["precision"] == "bf16"
    assert b.style_loss == pytest.approx(a.style_loss, rel=0.1)


def test_bad_inputs_give_clear_errors(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(InputError, match="nope.png: file not found"):
        _run(style=missing)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(InputError, match="notes.png: not a readable image"):
        _run(content=text)
    with pytest.raises(InputError, match="ratio"):
        _run(ratio="1:x")
    with pytest.raises(InputError, match="unknown VGG19 layer"):
        _run(content_layer="conv9_9")


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------


class _NotATensor:
    """A picklable object that a weights-only load must refuse."""


def _random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    return st_vgg.load_vgg19(random_features=True, seed=seed, device="cpu").features.state_dict()


def test_weights_file_validation_errors(tmp_path):
    with pytest.raises(st_vgg.VGGWeightsError, match="does not exist"):
        st_vgg.load_vgg19_state_dict(tmp_path / "missing.pth")

    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"definitely not a torch file")
    with pytest.raises(st_vgg.VGGWeightsError, match="junk.pth cannot be read"):
        st_vgg.load_vgg19_state_dict(junk)

    good = _random_state_dict()
    missing_key = {k: v for k, v in good.items() if k != "28.weight"}
    torch.save(missing_key, tmp_path / "missing_key.pth")
    with pytest.raises(st_vgg.VGGWeightsError, match=r"missing 28\.weight"):
        st_vgg.load_vgg19_state_dict(tmp_path / "missing_key.pth")

    wrong_shape = dict(good, **{"0.weight": torch.zeros(64, 1, 3, 3)})
    torch.save({f"features.{k}": v for k, v in wrong_shape.items()}, tmp_path / "wrong_shape.pth")
    with pytest.raises(st_vgg.VGGWeightsError, match=r"features\.0\.weight has shape \(64, 1, 3, 3\), expected \(64, 3, 3, 3\)"):
        st_vgg.load_vgg19_state_dict(tmp_path / "wrong_shape.pth")

    # Pickled objects beyond tensors are refused (weights_only loading).
    torch.save({"0.weight": _NotATensor()}, tmp_path / "evil.pth")
    with pytest.raises(st_vgg.VGGWeightsError, match="evil.pth cannot be read as a weights-only"):
        st_vgg.load_vgg19_state_dict(tmp_path / "evil.pth")

    assert issubclass(st_vgg.VGGWeightsError, SinGANSegError)


def test_weights_file_loads_pth_and_safetensors(tmp_path, monkeypatch):
    """A valid local file (here: random weights saved to disk) is used and is not labelled random."""
    from safetensors.torch import save_file

    good = _random_state_dict(seed=7)
    torch.save({f"features.{k}": v for k, v in good.items()}, tmp_path / "vgg19.pth")
    save_file({k: v.contiguous() for k, v in good.items()}, str(tmp_path / "vgg19.safetensors"))
    for name in ("vgg19.pth", "vgg19.safetensors"):
        sd = st_vgg.load_vgg19_state_dict(tmp_path / name)
        assert set(sd) == set(good) and all(torch.equal(sd[k], good[k]) for k in good)

    vgg = st_vgg.load_vgg19(weights=tmp_path / "vgg19.pth", device="cpu")
    assert not vgg.random_features and "vgg19.pth" in vgg.source
    monkeypatch.setenv(st_vgg.WEIGHTS_ENV_VAR, str(tmp_path / "vgg19.safetensors"))
    vgg_env = st_vgg.load_vgg19(device="cpu")
    assert st_vgg.WEIGHTS_ENV_VAR in vgg_env.source
    res = st_transfer.transfer_style(CONTENT, STYLE, steps=2, vgg=vgg_env, precision="fp32")
    assert res.metadata["random_features"] is False


def test_weights_status_and_missing_weights_message(tmp_path, monkeypatch):
    """No cache, no env var, no download: a clear message that says how to provide the weights."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(st_vgg.WEIGHTS_ENV_VAR, raising=False)
    ok, msg = st_vgg.vgg_weights_status()
    assert not ok and st_vgg.WEIGHTS_ENV_VAR in msg and "--vgg-weights" in msg

    with pytest.raises(st_vgg.VGGWeightsError, match="--random-features"):
        st_vgg.load_vgg19(device="cpu", allow_download=False)

    monkeypatch.setenv(st_vgg.WEIGHTS_ENV_VAR, str(tmp_path / "absent.pth"))
    ok, msg = st_vgg.vgg_weights_status()
    assert not ok and "absent.pth" in msg

    cached = tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    monkeypatch.delenv(st_vgg.WEIGHTS_ENV_VAR)
    ok, msg = st_vgg.vgg_weights_status()
    assert ok and "torchvision cache" in msg


# ---------------------------------------------------------------------------------------------
# Samples folder + CLI
# ---------------------------------------------------------------------------------------------


def test_samples_folder_masks_unchanged_and_manifest_random_features(tmp_path):
    """Random VGG19 features: *_st.png per row, masks copied byte for byte, extended manifest, resumable."""
    samples = _samples(tmp_path)
    out = tmp_path / "styled"
    cfg = st_config.StyleTransferConfig(steps=3, precision="fp32", size=16)
    manifest = st_folder.style_transfer_samples(samples, out, cfg, random_features=True, device="cpu", batch_size=2)
    rows = list(csv.DictReader(manifest.open()))
    assert len(rows) == 3
    for row in rows:
        src_mask = samples / Path(row["st_source_image"]).name.replace("_img.png", "_mask.png")
        assert (out / row["mask"]).read_bytes() == src_mask.read_bytes()
        assert row["image"] == row["st_image"] == Path(row["st_source_image"]).stem + "_st.png"
        styled = Image.open(out / row["image"])
        assert styled.size == (28, 20)
        assert json.loads(styled.text["singanseg_style"])["random_features"] is True
        assert row["st_random_features"] == "True" and row["st_steps"] == "3" and row["st_ratio"] == "1:1000"
        assert row["st_style_image"].endswith(f"{row['checkpoint']}/real.png")
    record = json.loads((out / "style_transfer.json").read_text())
    assert record["random_features"] is True
    # the loss curves of each batch (2 + 1 images), one entry per step, kept for the dashboard
    assert [len(b["images"]) for b in record["loss_history"]] == [2, 1]
    assert sorted(n for b in record["loss_history"] for n in b["images"]) == sorted(r["image"] for r in rows)
    assert all([h["step"] for h in b["history"]] == [1, 2, 3] for b in record["loss_history"])

    # Resume: existing outputs are skipped (not rewritten), a deleted one is redone.
    first = out / rows[0]["image"]
    kept = (out / rows[1]["image"]).stat().st_mtime_ns
    first.unlink()
    st_folder.style_transfer_samples(samples, out, cfg, random_features=True, device="cpu")
    assert first.exists() and (out / rows[1]["image"]).stat().st_mtime_ns == kept
    rows2 = list(csv.DictReader((out / "manifest.csv").open()))
    assert [r["st_image"] for r in rows2] == [r["st_image"] for r in rows]
    assert all(r["st_steps"] == "3" for r in rows2)


def test_samples_folder_real_dir_and_bad_style_write_nothing(tmp_path):
    samples = _samples(tmp_path)
    real = tmp_path / "real_images"
    real.mkdir()
    _img(24, 24, 80).save(real / "ckA.jpg")
    out = tmp_path / "styled"
    cfg = st_config.StyleTransferConfig(steps=1, precision="fp32", size=16)
    with pytest.raises(InputError, match=r"no style image .*real_images/ckB\.\*"):
        st_folder.style_transfer_samples(samples, out, cfg, real_dir=real, random_features=True, device="cpu")
    assert not out.exists()

    (real / "ckB.jpg").write_text("not a jpeg")
    with pytest.raises(InputError, match=r"ckB\.jpg: not a readable image"):
        st_folder.style_transfer_samples(samples, out, cfg, real_dir=real, random_features=True, device="cpu")
    assert not out.exists()

    _img(24, 24, 81).save(real / "ckB.png")
    (real / "ckB.jpg").unlink()
    st_folder.style_transfer_samples(samples, out, cfg, real_dir=real, random_features=True, device="cpu")
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert {Path(r["st_style_image"]).name for r in rows} == {"ckA.jpg", "ckB.png"}


def test_cli_style_and_errors(tmp_path, capsys):
    from singanseg_core.cli.main import main

    c, s, out = tmp_path / "c.png", tmp_path / "s.png", tmp_path / "out.png"
    CONTENT.save(c)
    STYLE.save(s)
    rc = main(["style", "--content", str(c), "--style", str(tmp_path / "missing.png"), "--out", str(out),
               "--random-features", "--steps", "2"])
    assert rc == 1 and not out.exists()
    assert "style image" in capsys.readouterr().err

    rc = main(["style", "--content", str(c), "--style", str(s), "--out", str(out), "--random-features",
               "--steps", "2", "--precision", "fp32", "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0 and out.exists()
    assert "RANDOM VGG features" in captured.out and "random VGG19 features" in captured.err
    md = json.loads(Image.open(out).text["singanseg_style"])
    assert md["random_features"] is True and md["steps"] == 2

    rc = main(["style", "--content", str(c), "--style", str(s), "--out", str(out), "--random-features", "--steps", "2"])
    assert rc == 1 and "already exists" in capsys.readouterr().err


def test_cli_style_batch(tmp_path, capsys):
    from singanseg_core.cli.main import main

    samples = _samples(tmp_path)
    out = tmp_path / "styled"
    rc = main(["style-batch", "--samples", str(samples), "--out", str(out), "--random-features", "--steps", "1",
               "--size", "16", "--precision", "fp32", "--quiet"])
    assert rc == 0
    assert "RANDOM VGG features" in capsys.readouterr().out
    assert len(list(out.glob("*_st.png"))) == 3 and len(list(out.glob("*_mask.png"))) == 3

    rc = main(["style-batch", "--samples", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2"), "--random-features"])
    assert rc == 1 and "manifest.csv does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()


@pytest.mark.slow
def test_channels_last_path_matches_contiguous_for_adam_and_lbfgs(monkeypatch):
    """Batches of >= 256x256 pixels run VGG in NHWC (speed only): same result as NCHW, both optimisers."""

    rng = np.random.default_rng(3)
    content = torch.from_numpy(rng.random((4, 3, 128, 128), dtype=np.float32))
    style = torch.from_numpy(rng.random((4, 3, 128, 128), dtype=np.float32))
    assert st_transfer._memory_format(content, "fp32") == torch.channels_last
    assert st_transfer._memory_format(content[:1], "fp32") == torch.contiguous_format
    vgg = st_vgg.load_vgg19(random_features=True, seed=0)
    for optimizer in ("adam", "lbfgs"):
        cfg = st_config.StyleTransferConfig(steps=3, optimizer=optimizer)
        extractor = vgg_net.VGGFeatures(vgg.features, cfg.layers)
        nhwc = st_transfer._optimize(extractor, content, style, cfg, "fp32", None).image
        with monkeypatch.context() as m:
            m.setattr(st_transfer, "_memory_format", lambda *_: torch.contiguous_format)
            nchw = st_transfer._optimize(extractor, content, style, cfg, "fp32", None).image
        assert nhwc.is_contiguous() and nhwc.shape == content.shape
        moved = (nchw - content).abs().max()
        assert moved > 1e-5, optimizer  # it did optimise
        assert (nhwc - nchw).abs().max() < 0.01 * moved, optimizer
