"""The teaching trace of a guided sample (``trace_pyramid(injected=)``, ``guided_trace``) on a demo checkpoint: it
is exactly the guided sample, starts at the entry scale, and the figure marks where the guide enters."""

from __future__ import annotations

import numpy as np
import pytest

from singanseg_core.analysis.teaching import trace_figure
from singanseg_core.model import SinGANSeg
from singanseg_core.model.guided import default_inject_scale, guided_sample, guided_trace, real_pair
from singanseg_core.model.trace import trace_pyramid
from singanseg_core.services.demo import DEMO_CHECKPOINTS
from tests.helpers import REPO_ROOT

DEMO = REPO_ROOT / "singanseg_core" / "demo_assets" / "checkpoints"


@pytest.fixture(scope="module")
def model(one_torch_thread) -> SinGANSeg:  # noqa: ANN001
    return SinGANSeg.from_pretrained(DEMO / sorted(DEMO_CHECKPOINTS)[0], device="cpu")


def test_a_guided_trace_is_the_guided_sample_from_the_entry_scale(model: SinGANSeg) -> None:
    _, mask = real_pair(model)
    requested = np.roll(mask, (6, -8), axis=(0, 1)).astype(np.uint8) * 255
    k = default_inject_scale(model.num_scales)
    trace = guided_trace(model, requested, k, seed=5)
    sample = guided_sample(model, requested, k, n=1, seed=5)
    assert np.array_equal(trace.image, sample.images[0])
    assert np.array_equal(trace.mask_at()[0], sample.masks[0])
    assert [s.scale for s in trace.scales] == list(range(k, model.num_scales)) and trace.inject_scale == k
    assert trace.num_scales == model.num_scales and not any(s.used_stored_noise for s in trace.scales)
    h, w = model.scale_sizes[k - 1]
    assert trace.guide.shape == (h, w, 4)
    # the scale at the entry refines the guide (enlarged), not the output of a scale of its own below
    plain = trace_pyramid(model, seed=5, gen_start_scale=k)
    assert not np.allclose(trace.scales[0].prev_up, plain.scales[k].prev_up)
    assert plain.inject_scale is None and plain.guide is None and len(plain.scales) == model.num_scales


def test_the_figure_shows_the_guide_row_and_marks_the_entry_scale(model: SinGANSeg) -> None:
    _, mask = real_pair(model)
    k = default_inject_scale(model.num_scales)
    guided = trace_figure(guided_trace(model, mask.astype(np.uint8) * 255, k, seed=0), tile=32, captions=False)
    plain = trace_figure(trace_pyramid(model, seed=0, gen_start_scale=k), tile=32, captions=False)
    # one row per traced scale, the guide row and the final row, against every scale and the final row
    rows_guided, rows_plain = (model.num_scales - k) + 2, model.num_scales + 1
    assert guided.height < plain.height and rows_guided < rows_plain


def test_default_inject_scale_is_about_forty_percent_into_the_pyramid() -> None:
    assert default_inject_scale(7) == 3 and default_inject_scale(8) == 3 and default_inject_scale(10) == 4
    assert default_inject_scale(2) == 1 and default_inject_scale(3) == 1 and default_inject_scale(1) == 1


def test_the_guide_row_says_which_scale_it_stands_in_for(model: SinGANSeg) -> None:
    from singanseg_core.analysis.teaching import guide_row
    from singanseg_core.model.training_log import scale_label

    _, mask = real_pair(model)
    trace = guided_trace(model, mask.astype(np.uint8) * 255, 2, seed=0)
    label, tiles = guide_row(trace, 32)
    assert label[0] == "guide" and label[-1] == scale_label(1, model.num_scales) and len(tiles) == 5
