"""The training masks of a sample set's checkpoints, and the one sentence that reads real-vs-synthetic stats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from singanseg_core.analysis.stats import (compute_mask_stats, mask_stats_from_values, read_mask_stats,
                                           training_mask_table)
from singanseg_core.errors import InputError


def _sample_set(root: Path, checkpoints: list[str]) -> Path:
    folder = root / "samples"
    folder.mkdir()
    lines = ["checkpoint,mask"]
    for i, ck in enumerate(checkpoints):
        mask = np.zeros((8, 8), np.uint8)
        mask[: i + 1] = 255
        Image.fromarray(mask).save(folder / f"{ck}_s0_{i}_mask.png")
        lines.append(f"{ck},{ck}_s0_{i}_mask.png")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder


def _checkpoint(root: Path, name: str, rows: int) -> None:
    (root / "checkpoints" / name).mkdir(parents=True)
    mask = np.zeros((10, 10), np.uint8)
    mask[:rows] = 255
    Image.fromarray(mask).save(root / "checkpoints" / name / "real_mask.png")


def test_training_masks_are_those_of_the_samples_checkpoints(tmp_path: Path) -> None:
    folder = _sample_set(tmp_path, ["a", "a", "b", "gone"])
    _checkpoint(tmp_path, "a", 2)
    _checkpoint(tmp_path, "b", 5)
    _checkpoint(tmp_path, "unrelated", 9)
    table = training_mask_table(folder, tmp_path / "checkpoints")
    assert dict(zip(table["name"], table["true_pixel_pct"])) == {"a (training mask)": 20.0, "b (training mask)": 50.0}
    stats = compute_mask_stats(None, folder, training_masks_from=tmp_path / "checkpoints")
    assert stats.distance and sorted(stats.table[stats.table.source == "real"]["true_pixel_pct"]) == [20.0, 50.0]
    with pytest.raises(InputError, match="none of its checkpoints"):
        training_mask_table(folder, tmp_path / "nowhere")


@pytest.mark.parametrize("real, synthetic, says", [
    ([40.0] * 6, [41.0, 39.0, 40.5, 40.0, 39.5, 40.0], "close"),
    ([40.0] * 6, [30.0] * 6, "noticeably different"),
    ([40.0] * 6, [0.0, 0.0, 5.0, 5.0, 2.0, 1.0], "far apart"),
])
def test_one_sentence_reads_the_result(real: list[float], synthetic: list[float], says: str) -> None:
    sentence = read_mask_stats(mask_stats_from_values(real, synthetic))
    assert f"distributions are {says}" in sentence and sentence.count(".") >= 1
    assert f"{np.mean(synthetic):.1f} % object on average against {np.mean(real):.1f} %" in sentence
    assert ("2 of the synthetic masks are empty" in sentence) == (says == "far apart")
