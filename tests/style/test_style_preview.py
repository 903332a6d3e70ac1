"""The in-page style preview (``style.preview``): the batch transfer with preview settings, its loss history and
what it says about the VGG19 weights. Seeded random VGG19 features (no pretrained weights here)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from singanseg_core.errors import Cancelled, InputError
from singanseg_core.style import preview as pv
from singanseg_core.style.config import StyleTransferConfig
from singanseg_core.style.transfer import transfer_style_batch

RNG = np.random.default_rng(0)
IMAGES = [RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8), RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)]
STYLE = np.asarray(Image.new("RGB", (40, 40), (150, 90, 40)))


def test_preview_is_the_batch_transfer(one_torch_thread) -> None:
    """Same images as transfer_style_batch with the preview's settings: one implementation of the losses."""
    calls = []
    prev = pv.preview_style(IMAGES, STYLE, ratio="1:1000", size=96, steps=4, precision="fp32", random_features=True,
                            progress=lambda step, losses: calls.append((step, losses["total"])))
    cfg = StyleTransferConfig.from_ratio("1:1000", steps=4, optimizer="lbfgs", size=32, precision="fp32")
    ref = transfer_style_batch([Image.fromarray(a) for a in IMAGES], [Image.fromarray(STYLE)] * 2, cfg,
                               random_features=True, device="cpu", batch_size=2)
    assert [im.shape for im in prev.images] == [(24, 32, 3)] * 2 and all(im.dtype == np.uint8 for im in prev.images)
    for got, want in zip(prev.images, ref):
        assert np.array_equal(got, np.asarray(want.image))
    assert prev.history == ref[0].history
    assert [h["step"] for h in prev.history] == [1, 2, 3, 4] == [c[0] for c in calls]
    assert set(prev.history[0]) == {"step", "content", "style", "total"}
    assert prev.history[-1]["total"] < prev.history[0]["total"]
    assert prev.metadata["processing_size"] == [24, 32]        # never enlarged beyond the images (size=96)
    assert prev.random_features and "random" in prev.note and "4 L-BFGS steps" in prev.note
    assert prev.seconds > 0


def test_ratio_changes_the_result(one_torch_thread) -> None:
    a = pv.preview_style(IMAGES[:1], STYLE, ratio="1:1", steps=3, random_features=True)
    b = pv.preview_style(IMAGES[:1], STYLE, ratio="1:1000", steps=3, random_features=True)
    assert not np.array_equal(a.images[0], b.images[0])
    assert "ratio 1:1," in a.note and "ratio 1:1000," in b.note
    # more style weight moves the image further from the content
    dist = [np.abs(x.images[0].astype(int) - IMAGES[0]).mean() for x in (a, b)]
    assert dist[1] > dist[0]


def test_mixed_sizes_run_apart_and_add_up(one_torch_thread) -> None:
    images = [IMAGES[0], RNG.integers(0, 256, (20, 20, 3), dtype=np.uint8)]
    steps: list[int] = []
    prev = pv.preview_style(images, STYLE, steps=2, random_features=True, precision="fp32",
                            progress=lambda step, losses: steps.append(step))
    assert [im.shape for im in prev.images] == [(24, 32, 3), (20, 20, 3)]
    assert steps == [1, 2, 3, 4] and pv.preview_batches(images) == 2
    single = [pv.preview_style([im], STYLE, steps=2, random_features=True, precision="fp32") for im in images]
    assert single[1].metadata["processing_size"] == [20, 20]        # not enlarged to the other image's 32 px
    for i in range(2):
        assert prev.history[i]["total"] == pytest.approx(single[0].history[i]["total"] + single[1].history[i]["total"])
    for got, want in zip(prev.images, single):
        assert np.array_equal(got, want.images[0])


def test_cancel_and_bad_input() -> None:
    with pytest.raises(Cancelled):
        pv.preview_style(IMAGES, STYLE, steps=5, random_features=True, progress=lambda step, losses: step < 2)
    with pytest.raises(InputError, match="at least one image"):
        pv.preview_style([], STYLE)
    with pytest.raises(InputError, match=r"image #1 must be an \(H, W, 3\) uint8 array"):
        pv.preview_style([IMAGES[0], IMAGES[1].astype(np.float32)], STYLE)
    with pytest.raises(InputError, match="steps must be in 1..1000"):
        pv.preview_style(IMAGES, STYLE, steps=0)
    with pytest.raises(InputError, match="style image must be"):
        pv.preview_style(IMAGES, STYLE[..., 0])


def test_ratio_explanation_is_one_sentence() -> None:
    text = pv.RATIO_EXPLANATION
    assert text.endswith(".") and len(re.findall(r"[.!?](\s|$)", text)) == 1
    assert "1:1000" in text and "1:1" in text
