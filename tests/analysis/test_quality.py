"""The undertraining flag: ``analysis.quality.assess_samples`` on synthetic samples and on real models."""

from __future__ import annotations

import numpy as np
import pytest

from singanseg_core.analysis.quality import ADVICE, assess_samples
from singanseg_core.model import Samples, SinGANSeg
from singanseg_core.services.demo import ASSETS_DIR, DEMO_CHECKPOINTS

from tests.helpers import polyp, polyp_stems


def _samples(pcts: list[float], identical: bool = False, size: int = 20) -> Samples:
    """Samples whose masks have the given true-pixel percentages (rounded to whole pixels)."""
    rng = np.random.default_rng(0)
    n = len(pcts)
    images = np.repeat(rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8), n, axis=0) if identical \
        else rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    masks = np.zeros((n, size, size), np.uint8)
    for i, p in enumerate(pcts):
        masks[i].flat[:round(p / 100 * size * size)] = 255
    return Samples(images, masks, None, 0, 0)


def test_mostly_empty_masks_are_flagged() -> None:
    report = assess_samples(_samples([0.0] * 11 + [30.0] * 5))
    assert report.flagged and report.empty == 11 and report.n == 16 and report.full == 0
    assert report.message == f"undertrained: 11 of 16 samples have empty masks — {ADVICE}"
    assert report.empty_fraction == pytest.approx(11 / 16)


def test_threshold_of_empty_masks() -> None:
    # 4 of 16 = 25 % empty: under the default 30 %
    ok = assess_samples(_samples([0.0] * 4 + [30.0] * 12))
    assert not ok.flagged and ok.empty == 4 and ok.problems == []
    assert ok.message.startswith("no sign of undertraining in 16 samples")
    assert assess_samples(_samples([0.0] * 4 + [30.0] * 12), max_empty_fraction=0.2).flagged
    # a tiny object (1 pixel of 400 = 0.25 %) still counts as empty; 1 % does not
    assert assess_samples(_samples([0.25] * 10)).empty == 10
    assert assess_samples(_samples([1.0] * 10)).empty == 0


def test_full_and_identical_samples_are_flagged() -> None:
    full = assess_samples(_samples([100.0] * 9 + [40.0] * 7))
    assert full.flagged and full.full == 9 and "9 of 16 samples have masks covering the whole image" in full.message
    same = assess_samples(_samples([40.0] * 6, identical=True))
    assert same.flagged and same.identical == 6 and "all 6 samples are the same image" in same.message
    assert not assess_samples(_samples([40.0] * 6, identical=True), check_identical=False).flagged
    assert not assess_samples(_samples([40.0] * 2, identical=True)).flagged     # too few to tell
    both = assess_samples(_samples([0.0] * 6, identical=True))
    assert both.message.count(";") == 1 and both.message.endswith(ADVICE) and len(both.problems) == 2


def test_no_samples() -> None:
    empty = Samples(np.zeros((0, 4, 4, 3), np.uint8), np.zeros((0, 4, 4), np.uint8), None, 0, 0)
    report = assess_samples(empty)
    assert not report.flagged and report.n == 0 and report.empty_fraction == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("name", DEMO_CHECKPOINTS)
def test_demo_models_are_not_flagged(name: str, one_torch_thread) -> None:
    model = SinGANSeg.from_pretrained(ASSETS_DIR / "checkpoints" / name)
    report = assess_samples(model.sample(8, seed=0))
    assert not report.flagged, report.message
    assert report.empty == 0 and report.identical == 1


def test_a_barely_trained_polyp_model_is_flagged(tmp_path, one_torch_thread) -> None:
    """Two iterations per scale on a real polyp: the masks come out empty and the noise is ignored."""
    from singanseg_core.training.config import TrainConfig
    from singanseg_core.training.fit import train

    image, mask = polyp(polyp_stems()[0])
    model = train(image, mask, tmp_path / "ck", TrainConfig.from_preset("tiny", max_size=30, niter=2),
                  device="cpu")
    report = assess_samples(model.sample(16, seed=0))
    assert report.flagged and report.empty > 0.3 * 16
    assert report.message.startswith(f"undertrained: {report.empty} of 16 samples have empty masks")
