"""Paper metrics against hand-computed values; a tiny UNet++ training run on real polyps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from singanseg_core.errors import Cancelled, CheckpointError, InputError
from singanseg_core.segmentation import (
    MetricAccumulator,
    SegConfig,
    SegmentationModel,
    compute_metrics,
    evaluate,
    folder_pairs,
    pixel_counts,
    real_pairs,
    train_segmentation,
)

from tests.helpers import POLYPS, needs_shared
TINY = dict(encoder_name="mobilenet_v2", encoder_weights=None, image_size=32, batch_size=4, epochs=2,
            lr=1e-3, lr_drop_epoch=1, lr_after_drop=1e-4, augment=True, device="cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_metrics_hand_computed_2x2():
    prob = np.array([[0.9, 0.2], [0.6, 0.4]])
    target = np.array([[1, 0], [0, 1]])
    c = pixel_counts(prob, target)
    assert (c.tp, c.fp, c.fn, c.tn) == (1, 1, 1, 1)
    m = compute_metrics(prob, target)
    assert m["iou"] == pytest.approx(1 / 3)
    assert m["fscore"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx(0.5)
    # soft dice: 1 - 2 * (0.9 + 0.4) / ((0.9 + 0.2 + 0.6 + 0.4) + 2)
    assert m["dice_loss"] == pytest.approx(1 - 2.6 / 4.1)


def test_metrics_asymmetric_case_and_threshold():
    target = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    prob = np.array([0.8, 0.5, 0.1, 0.7, 0.2, 0.0, 0.0, 0.49])  # 0.5 counts as positive, 0.49 not
    m = compute_metrics(prob, target)
    # TP=2, FN=1, FP=1, TN=4
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["iou"] == pytest.approx(2 / 4) and m["fscore"] == pytest.approx(4 / 6)
    assert m["accuracy"] == pytest.approx(6 / 8)
    strict = compute_metrics(prob, target, threshold=0.6)  # TP=1 (0.8), FP=1 (0.7), FN=2
    assert strict["recall"] == pytest.approx(1 / 3) and strict["iou"] == pytest.approx(1 / 4)


def test_metrics_are_micro_averaged_over_pixels():
    acc = MetricAccumulator()
    acc.update(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))  # perfect, IoU 1
    acc.update(torch.tensor([[0.0, 0.0, 0.0, 0.0]]), torch.tensor([[1.0, 1.0, 1.0, 0.0]]))  # missed, IoU 0
    m = acc.compute()
    assert m["iou"] == pytest.approx(1 / 4)  # micro: TP=1, FN=3; a per-image mean would give 0.5
    assert m["accuracy"] == pytest.approx(5 / 8)


def test_metrics_perfect_and_empty():
    y = np.array([[0, 1], [1, 1]])
    perfect = compute_metrics(y.astype(float), y)
    assert perfect["iou"] == 1.0 and perfect["fscore"] == 1.0 and perfect["dice_loss"] == pytest.approx(0.0)
    empty = compute_metrics(np.zeros((3, 3)), np.zeros((3, 3)))
    assert empty["iou"] == 1.0 and empty["accuracy"] == 1.0 and empty["dice_loss"] == 0.0
    with pytest.raises(ValueError):
        compute_metrics(np.zeros((2, 2)), np.zeros((2, 3)))


def test_config_presets_and_validation():
    paper = SegConfig.from_preset("paper")
    assert paper.encoder_name == "se_resnext50_32x4d" and paper.image_size == 128 and paper.lr == 1e-4
    assert paper.lr_at(50) == 1e-4 and paper.lr_at(51) == 1e-5
    assert SegConfig.from_dict(paper.to_dict()) == paper
    with pytest.raises(InputError):
        SegConfig(image_size=100)
    with pytest.raises(InputError):
        SegConfig.from_preset("nope")


@needs_shared
def test_pairs_discovery(tmp_path):
    pairs = real_pairs(POLYPS)
    assert len(pairs) == 40 and all(p.image.stem == p.mask.stem for p in pairs)
    assert folder_pairs(POLYPS) == pairs
    with pytest.raises(InputError):
        folder_pairs(tmp_path / "missing")


@pytest.mark.slow
@needs_shared
def test_train_save_load_predict_and_determinism(tmp_path):
    pairs = real_pairs(POLYPS)
    train, val = pairs[:9], pairs[30:36]
    events = []
    cfg = SegConfig(**TINY)
    res = train_segmentation(train, val, cfg, out_dir=tmp_path / "m", progress=events.append)
    assert list(res.history["epoch"]) == [1, 2] and list(res.history["lr"]) == [1e-3, 1e-4]
    assert res.metrics["iou"] == res.history["val_iou"].max()  # best checkpoint by validation IoU
    assert res.best_epoch == int(res.history.loc[res.history["val_iou"].idxmax(), "epoch"])
    for k in ("iou", "fscore", "accuracy", "recall", "precision", "dice_loss"):
        assert 0.0 <= res.metrics[k] <= 1.0
    from singanseg_core.analysis.figures import training_history_figure

    assert {t.name for t in training_history_figure(res.history).data} >= {"train dice loss", "val iou"}
    phases = [e.phase for e in events]
    assert phases.count("val") == 2 and phases[-1] == "done" and "train" in phases

    # the stored model reproduces the stored metrics
    loaded = SegmentationModel.load(tmp_path / "m")
    again = evaluate(loaded, val)
    assert again == pytest.approx(res.metrics)
    assert pd.read_csv(tmp_path / "m" / "history.csv").shape[0] == 2
    mask = loaded.predict_mask(val[0].image)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert mask.shape == np.asarray(__import__("PIL.Image").Image.open(val[0].image)).shape[:2]

    # same seed -> same run
    res2 = train_segmentation(train, val, cfg)
    assert res2.history["val_iou"].tolist() == pytest.approx(res.history["val_iou"].tolist())


@needs_shared
def test_cancel_and_bad_checkpoint(tmp_path):
    pairs = real_pairs(POLYPS)
    with pytest.raises(Cancelled):
        train_segmentation(pairs[:4], pairs[4:6], SegConfig(**TINY), progress=lambda e: False)
    (tmp_path / "bad").mkdir()
    with pytest.raises(CheckpointError):
        SegmentationModel.load(tmp_path / "bad")


@needs_shared
def test_segment_cli_train_evaluate_predict(tmp_path, capsys):
    from singanseg_core.cli.main import main

    data = tmp_path / "data"
    for sub in ("images", "masks"):
        (data / sub).mkdir(parents=True)
    for pair in real_pairs(POLYPS)[:6]:  # a small copy inside tmp_path keeps the run short
        (data / "images" / pair.image.name).write_bytes(pair.image.read_bytes())
        (data / "masks" / pair.mask.name).write_bytes(pair.mask.read_bytes())
    model = tmp_path / "model"
    assert main(["segment", "train", "--train", str(data), "--val", str(data), "--encoder", "mobilenet_v2",
                 "--image-size", "32", "--epochs", "1", "--device", "cpu", "--out", str(model)]) == 0
    assert "iou=" in capsys.readouterr().out
    assert main(["segment", "evaluate", "--model", str(model), "--data", str(data), "--device", "cpu"]) == 0
    line = capsys.readouterr().out
    assert float(line.split("iou=")[1].split()[0]) == pytest.approx(json.loads((model / "metrics.json").read_text())["iou"], abs=1e-4)
    assert main(["segment", "predict", "--model", str(model), "--input", str(data / "images"), "--out",
                 str(tmp_path / "pred"), "--device", "cpu"]) == 0
    assert len(list((tmp_path / "pred").glob("*_pred.png"))) == 6
    assert main(["segment", "predict", "--model", str(model), "--input", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "pred")]) == 1  # user error: one line, exit code 1


@needs_shared
def test_steps_mode_trains_a_fixed_number_of_steps_and_keeps_the_best_validation(tmp_path):
    pairs = real_pairs(POLYPS)
    cfg = SegConfig(**{**TINY, "steps": 5, "eval_every": 2, "seed": 3})
    events = []
    res = train_segmentation(pairs[:3], pairs[3:5], cfg, out_dir=tmp_path / "m", progress=events.append)
    assert sum(e.phase == "train" for e in events) == 5   # 3 training pairs, batch 4: 5 passes of one batch
    assert res.history["step"].tolist() == [2, 4, 5]       # every 2 steps and after the last
    best = res.history.loc[res.history["val_iou"].idxmax()]
    assert res.best_epoch == best["step"] and res.metrics["iou"] == pytest.approx(best["val_iou"])
    assert evaluate(res.model, pairs[3:5])["iou"] == pytest.approx(res.metrics["iou"], abs=1e-9)  # best weights kept
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["best_step"] == res.best_epoch
    for bad in (dict(steps=0), dict(steps=2.5), dict(eval_every=0)):
        with pytest.raises(InputError):
            SegConfig(**{**TINY, **bad})
