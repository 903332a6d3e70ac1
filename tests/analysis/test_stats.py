"""Mask statistics on masks whose answers are known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from singanseg_core.errors import InputError
from singanseg_core.files.atomic import save_png
from singanseg_core.analysis.report import write_mask_stats
from singanseg_core.analysis.stats import (
    checkpoint_variability,
    compute_mask_stats,
    distribution_distance,
    histogram,
    mask_mean_std,
    summarize,
    true_pixel_pct,
)

from tests.helpers import POLYPS, needs_shared


def _mask(h: int, w: int, rows: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[:rows] = 255
    return m


def test_true_pixel_pct_known_masks(tmp_path):
    assert true_pixel_pct(np.zeros((10, 20), np.uint8)) == 0.0
    assert true_pixel_pct(_mask(10, 20, 5)) == 50.0
    assert true_pixel_pct(np.full((4, 4), 255, np.uint8)) == 100.0
    assert true_pixel_pct(np.array([[0.2, 0.7], [0.5, 0.1]])) == 50.0  # floats: >= 0.5 is polyp
    save_png(tmp_path / "q.png", _mask(8, 8, 2))
    assert true_pixel_pct(tmp_path / "q.png") == 25.0


def test_histogram_bins_and_edges():
    h = histogram([0.0, 4.9, 5.0, 50.0, 100.0], bin_width=5)
    assert len(h) == 20 and h["bin_start"].iloc[0] == 0 and h["bin_end"].iloc[-1] == 100
    counts = dict(zip(h["label"], h["count"]))
    assert counts["0-5"] == 2 and counts["5-10"] == 1 and counts["50-55"] == 1 and counts["95-100"] == 1
    assert h["count"].sum() == 5 and h["fraction"].sum() == pytest.approx(1.0)
    with pytest.raises(InputError):
        histogram([1.0], bin_width=0)


def test_summary_and_distance():
    s = summarize([0.0, 2.0, 10.0, 20.0])
    assert s["count"] == 4 and s["mean"] == 8.0 and s["median"] == 6.0
    assert s["share_under_5"] == 0.5 and s["empty"] == 1
    same = distribution_distance([1, 2, 3], [1, 2, 3])
    assert same["wasserstein"] == 0.0 and same["ks_statistic"] == 0.0
    shifted = distribution_distance([1, 2, 3], [11, 12, 13])
    assert shifted["wasserstein"] == pytest.approx(10.0) and shifted["ks_statistic"] == 1.0


def test_mask_mean_std_pixelwise():
    a = np.zeros((2, 2), bool)
    b = np.ones((2, 2), bool)
    c = np.array([[1, 0], [0, 0]], bool)
    mean, std = mask_mean_std([a, b, c])
    np.testing.assert_allclose(mean, [[2 / 3, 1 / 3], [1 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(std, np.std(np.stack([a, b, c]).astype(float), axis=0), rtol=1e-6)
    mean1, std1 = mask_mean_std([b, b])
    assert mean1.min() == 1.0 and std1.max() == 0.0
    from singanseg_core.analysis.figures import mask_mean_std_figure

    fig = mask_mean_std_figure(mean, std)
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=float), mean)


def _fake_samples(folder: Path) -> None:
    """Two checkpoints x 2 samples in the engine's naming, with a manifest."""
    rows = []
    for ckpt, fills in {"ckA": (0, 4), "ckB": (8, 8)}.items():
        for i, r in enumerate(fills):
            img, mask = f"{ckpt}_s0_{i}_img.png", f"{ckpt}_s0_{i}_mask.png"
            save_png(folder / img, np.zeros((8, 8, 3), np.uint8))
            save_png(folder / mask, _mask(8, 8, r))
            rows.append({"checkpoint": ckpt, "checkpoint_path": "", "seed": 0, "gen_start_scale": 0, "index": i,
                         "image": img, "mask": mask, "true_pixel_pct": r / 8 * 100})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)


@needs_shared
def test_real_vs_synthetic_folders(tmp_path):
    synth = tmp_path / "samples"
    _fake_samples(synth)
    var = checkpoint_variability(synth)
    assert list(var["checkpoint"]) == ["ckA", "ckB"] and list(var["n"]) == [2, 2]
    assert var.set_index("checkpoint").loc["ckA", "mean_true_pixel_pct"] == pytest.approx(25.0)
    assert var.set_index("checkpoint").loc["ckA", "mean_pixel_std"] == pytest.approx(0.25)  # half the pixels std 0.5
    assert var.set_index("checkpoint").loc["ckB", "mean_pixel_std"] == 0.0

    stats = compute_mask_stats(POLYPS, synth, bin_width=5)
    real = stats.table[stats.table.source == "real"]
    assert len(real) == 40 and real["true_pixel_pct"].between(0, 100).all()
    summary = stats.summary.set_index("source")
    assert summary.loc["synthetic", "count"] == 4 and summary.loc["synthetic", "empty"] == 1
    assert summary.loc["synthetic", "mean"] == pytest.approx((0 + 50 + 100 + 100) / 4)
    assert stats.histograms.groupby("source")["count"].sum().to_dict() == {"real": 40, "synthetic": 4}
    assert 0 < stats.distance["ks_statistic"] <= 1 and stats.distance["wasserstein"] > 0

    written = write_mask_stats(stats, tmp_path / "out")
    names = {p.name for p in written}
    assert {"masks.csv", "histograms.csv", "summary.csv", "distance.json", "histogram.html",
            "variability.csv", "ckA_mean.png", "ckA_std.png"} <= names
    assert (tmp_path / "out" / "plotly.min.js").stat().st_size > 100_000  # HTML works offline
    assert len(pd.read_csv(tmp_path / "out" / "masks.csv")) == 44


def test_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        compute_mask_stats(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no mask images"):
        compute_mask_stats(tmp_path / "empty")


@needs_shared
def test_stats_cli(tmp_path, capsys):
    from singanseg_core.cli.main import main

    _fake_samples(tmp_path / "samples")
    assert main(["stats", "--real", str(POLYPS), "--synthetic", str(tmp_path / "samples"), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "Wasserstein-1" in out and "synthetic" in out
    summary = pd.read_csv(tmp_path / "o" / "summary.csv").set_index("source")
    assert summary.loc["real", "count"] == 40 and summary.loc["synthetic", "count"] == 4
    assert main(["stats", "--out", str(tmp_path / "o2")]) == 1  # nothing to do: a user error


def test_mask_stats_from_values_matches_the_folder_statistics(tmp_path) -> None:  # noqa: ANN001
    """In-memory percentages (the Sample page's unsaved samples) give the same histograms, summary and distance as
    the same masks read from folders."""
    import numpy as np
    from PIL import Image

    from singanseg_core.analysis.stats import compute_mask_stats, mask_stats_from_values
    from singanseg_core.errors import InputError

    rng = np.random.default_rng(0)
    pcts = {}
    for source, n in (("real", 3), ("synthetic", 5)):
        (tmp_path / source).mkdir()
        pcts[source] = []
        for i in range(n):
            m = (rng.uniform(size=(20, 20)) < rng.uniform(0.05, 0.9)).astype(np.uint8) * 255
            Image.fromarray(m).save(tmp_path / source / f"m{i}.png")
            pcts[source].append(float((m > 127).mean() * 100))
    folders = compute_mask_stats(tmp_path / "real", tmp_path / "synthetic", bin_width=10)
    values = mask_stats_from_values(pcts["real"], pcts["synthetic"], bin_width=10)
    assert values.histograms[["source", "count"]].equals(folders.histograms[["source", "count"]])
    assert values.distance == pytest.approx(folders.distance)
    assert list(values.summary["count"]) == [3, 5]
    alone = mask_stats_from_values(None, pcts["synthetic"])
    assert set(alone.table["source"]) == {"synthetic"} and not alone.distance
    with pytest.raises(InputError):
        mask_stats_from_values([1.0], [])
    with pytest.raises(InputError):
        mask_stats_from_values([101.0], [3.0])
