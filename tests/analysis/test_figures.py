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
