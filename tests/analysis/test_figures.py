"""``analysis.figures.true_pixel_histogram``: its three layouts and a legend that never sits on a title."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from singanseg_core.analysis.figures import HISTOGRAM_LAYOUTS, true_pixel_histogram
from singanseg_core.analysis.stats import compute_mask_stats


@pytest.fixture
def stats(tmp_path):  # noqa: ANN001, ANN201
    for group, fills in (("real", (10, 30, 50)), ("syn", (12, 60))):
        (tmp_path / group / "masks").mkdir(parents=True)
        (tmp_path / group / "images").mkdir()
        for i, pct in enumerate(fills):
            m = np.zeros((10, 10), np.uint8)
            m.flat[:pct] = 255
            Image.fromarray(m).save(tmp_path / group / "masks" / f"m{i}.png")
            Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / group / "images" / f"m{i}.png")
    return compute_mask_stats(tmp_path / "real", tmp_path / "syn", bin_width=10)


@pytest.mark.parametrize("layout", HISTOGRAM_LAYOUTS)
def test_histogram_layouts(stats, layout: str) -> None:  # noqa: ANN001
    fig = true_pixel_histogram(stats, layout)
    assert [t.name for t in fig.data] == ["real (n=3)", "synthetic (n=2)"]
    assert sum(fig.data[0].y) == pytest.approx(100)  # % of masks per bin
    legend = fig.layout.legend
    assert legend.x >= 1 and legend.xanchor == "left" and legend.orientation == "v"  # right of the plot area
    assert fig.layout.xaxis.title.text == "true pixels (% of mask area)"
    assert fig.layout.barmode == ("overlay" if layout == "overlay" else "group")
    if layout == "side by side":
        assert fig.layout.xaxis2.title.text and fig.data[1].xaxis == "x2"
    with pytest.raises(ValueError):
        true_pixel_histogram(stats, "stacked")


def test_style_loss_figure_has_content_and_style_curves() -> None:
    from singanseg_core.analysis.figures import style_loss_figure

    history = [{"step": i, "content": 0.1 * i, "style": 1.0 / i, "total": 1.0} for i in range(1, 6)]
    fig = style_loss_figure(history)
    assert [t.name for t in fig.data] == ["content loss", "style loss"]
    assert list(fig.data[1].y) == [1.0 / i for i in range(1, 6)] and list(fig.data[0].x) == [1, 2, 3, 4, 5]
    assert fig.layout.yaxis.type == "log"


def _readable_log_ticks(axis, values) -> None:  # noqa: ANN001
    """Few labels, each a 1-2-3-5 step of a power of ten, none repeated, spanning every value."""
    assert axis.type == "log" and axis.tickmode == "array"
    ticks, labels = list(axis.tickvals), list(axis.ticktext)
    assert 2 <= len(ticks) <= 8 and len(set(labels)) == len(labels) == len(ticks), labels
    for t in ticks:
        mantissa = t / 10 ** np.floor(np.log10(t))
        assert round(mantissa, 6) in (1, 2, 3, 5), t
    lo, hi = axis.range
    assert 10 ** lo <= min(values) * (1 + 1e-9) and 10 ** hi >= max(values) * (1 - 1e-9)
    assert axis.minor.ticks == ""  # no unlabelled digit ticks between them


@pytest.mark.parametrize("rec", [np.linspace(0.012, 0.09, 40), np.geomspace(0.0004, 0.6, 40),
                                 np.geomspace(2e-6, 3.0, 40)])
def test_training_chart_log_axis_has_readable_ticks(rec: np.ndarray) -> None:
    """The reconstruction axis labelled "6 5 4 3 2 1 8 6 5" (every digit of every decade): now a few labels."""
    from singanseg_core.analysis.figures import training_log_figure

    half = len(rec) // 2
    scales = [{"scale": k, "iterations": list(range(half)), "size": [20, 30], "seconds": 1.0, "done": True,
               "losses": {key: list(part) if key == "rec" else [0.1] * half for key in
                          ("d_real", "d_fake", "gp", "g_adv", "rec")}}
              for k, part in enumerate((rec[:half], rec[half:]))]
    fig = training_log_figure({"name": "m", "niter": half, "num_scales": 2, "scales": scales, "state": "finished"})
    _readable_log_ticks(fig.layout.yaxis2, rec)


def test_style_loss_log_axis_has_readable_ticks() -> None:
    from singanseg_core.analysis.figures import style_loss_figure

    history = [{"step": i, "content": 3.0 / i, "style": 0.002 * i, "total": 1.0} for i in range(1, 30)]
    fig = style_loss_figure(history)
    _readable_log_ticks(fig.layout.yaxis, [v for h in history for v in (h["content"], h["style"])])
