"""The training record kept with a checkpoint (``training_log.json`` + ``progress/*.png``), its figure, the ETA,
and the timing fields of a training job's status."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from singanseg_core.errors import Cancelled, CheckpointError
from singanseg_core.model import SinGANSeg
from singanseg_core.model.training_log import (LOSS_KEYS, TRAINING_LOG_NAME, estimate_eta, progress_images,
                                               progress_tile, read_training_log, scale_label)
from singanseg_core.model.timing import PRIOR_OVERHEAD_WORK, scale_work
from singanseg_core.services.demo import ASSETS_DIR
from singanseg_core.training.config import TrainConfig
from singanseg_core.training.fit import TrainItem, train_group
from singanseg_core.files.pairs import load_pair

DATA = ASSETS_DIR / "dataset"
CFG = TrainConfig.from_preset("tiny", max_size=30, niter=5)   # 2 scales (25, 30 px)


def _item(out: Path, stem: str = "ihc_r256_c256", cfg: TrainConfig = CFG) -> TrainItem:
    pair = load_pair(DATA / "images" / f"{stem}.png", DATA / "masks" / f"{stem}.png", name=stem)
    return TrainItem(pair, out, cfg)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_torch_thread) -> tuple[Path, list, dict]:
    out = tmp_path_factory.mktemp("log") / "ck"
    events: list = []
    last: dict = {}

    def progress(e) -> None:
        events.append((e.scale, e.iteration, e.scale_done, e.s_per_it, e.eta_s))
        if e.fake is not None:
            last.update(sample=e.fake[0].numpy().copy(), rec=e.rec[0].numpy().copy())

    train_group([_item(out)], device="cpu", log_every=2, progress=progress)
    return out, events, last


def test_record_is_written_with_the_checkpoint(trained) -> None:
    out, *_ = trained
    log = SinGANSeg.from_pretrained(out).training_log()
    assert log == read_training_log(out)
    assert log["state"] == "finished" and log["num_scales"] == 2 and log["niter"] == 5 and log["log_every"] == 2
    assert [s["scale"] for s in log["scales"]] == [0, 1] and all(s["done"] for s in log["scales"])
    config = json.loads((out / "config.json").read_text())
    for entry, size, seconds in zip(log["scales"], config["sizes"], config["train"]["seconds_per_scale"]):
        assert entry["size"] == size
        assert entry["iterations"] == [1, 2, 4, 5]           # every log_every, the first and the last
        assert set(entry["losses"]) == set(LOSS_KEYS)
        assert all(len(v) == 4 and all(np.isfinite(v)) for v in entry["losses"].values())
        assert entry["seconds"] == pytest.approx(seconds, abs=1e-3)
        assert 0 < entry["s_per_it"] <= entry["seconds"]
    assert log["eta_s"] == 0.0
    assert log["seconds"] == pytest.approx(sum(config["train"]["seconds_per_scale"]), abs=0.01)


def test_progress_images_show_the_current_scale(trained) -> None:
    """The PNGs are the last sample and reconstruction the trainer made at the last scale (image | mask)."""
    out, _, last = trained
    found = progress_images(out)
    assert set(found) == {"sample", "rec"}
    for key, path in found.items():
        img = np.asarray(Image.open(path))
        assert img.shape == (30, 60, 3)   # the finest scale: image | mask channel
        assert np.array_equal(img, progress_tile(last[key]))
        left, right = img[:, :30], img[:, 30:]
        assert (right[..., 0] == right[..., 1]).all() and left.std() > 1   # the mask is grey, the image is not
    assert not np.array_equal(np.asarray(Image.open(found["sample"])), np.asarray(Image.open(found["rec"])))
    # large scales are shrunk to PREVIEW_SIZE per tile
    big = progress_tile(np.zeros((4, 300, 200), np.float32))
    assert big.shape == (128, 2 * 85, 3)


def test_progress_events_carry_timing(trained) -> None:
    _, events, _ = trained
    logged = [e for e in events if not e[2]]
    assert all(e[3] is not None and e[3] > 0 for e in logged)
    assert all(e[4] is not None and e[4] >= 0 for e in logged)
    first_scale = [e[4] for e in logged if e[0] == 0]
    assert first_scale[-1] < first_scale[0]                  # less left as the scale goes on
    done = [e for e in events if e[2]]
    assert [e[0] for e in done] == [0, 1] and done[-1][4] == 0.0


@pytest.mark.slow
def test_resume_keeps_the_record_of_finished_scales(tmp_path, one_torch_thread) -> None:
    out = tmp_path / "ck"
    cfg = TrainConfig.from_preset("tiny", max_size=40, niter=3)   # 3 scales

    def stop_after_first_scale(ev):
        return not ev.scale_done

    with pytest.raises(Cancelled):
        train_group([_item(out, cfg=cfg)], device="cpu", log_every=1, progress=stop_after_first_scale)
    partial = read_training_log(out)
    assert partial["state"] == "training" and [s["scale"] for s in partial["scales"]] == [0]
    # a half-written later scale in the record (as if killed mid-scale) is dropped on resume
    partial["scales"].append({**partial["scales"][0], "scale": 1, "done": False})
    (out / TRAINING_LOG_NAME).write_text(json.dumps(partial))
    train_group([_item(out, cfg=cfg)], device="cpu", log_every=1, resume=True)
    log = read_training_log(out)
    assert [s["scale"] for s in log["scales"]] == [0, 1, 2] and log["state"] == "finished"
    assert log["scales"][0] == partial["scales"][0]
    assert log["scales"][1]["iterations"] == [1, 2, 3]
    # --overwrite starts a new record
    train_group([_item(out, cfg=cfg)], device="cpu", log_every=3, overwrite=True)
    assert read_training_log(out)["scales"][0]["iterations"] == [1, 3]


def test_missing_or_broken_record(tmp_path) -> None:
    assert read_training_log(tmp_path) is None
    (tmp_path / TRAINING_LOG_NAME).write_text("{not json")
    with pytest.raises(CheckpointError, match="training_log.json: unreadable"):
        read_training_log(tmp_path)
    (tmp_path / TRAINING_LOG_NAME).write_text(json.dumps({"format": 99, "scales": []}))
    with pytest.raises(CheckpointError, match="not a training log"):
        read_training_log(tmp_path)
    # an imported / older checkpoint has none
    assert SinGANSeg.from_pretrained(ASSETS_DIR / "checkpoints" / "ihc_r256_c256").training_log() is None


def test_eta_model() -> None:
    sizes, nfcs = [[25, 25], [50, 50], [100, 100]], [32, 32, 64]
    assert estimate_eta(sizes, nfcs, 100, 0, 10, None) is None
    full = estimate_eta(sizes, nfcs, 100, 0, 0, 0.1)
    # one measured scale: the prior overhead share decides how the later, costlier scales are weighted
    r1, r2 = ((scale_work(sizes[i], nfcs[i]) + PRIOR_OVERHEAD_WORK) / (scale_work(sizes[0], nfcs[0])
                                                                       + PRIOR_OVERHEAD_WORK) for i in (1, 2))
    assert full == pytest.approx(100 * 0.1 * (1 + r1 + r2))
    assert estimate_eta(sizes, nfcs, 100, 0, 50, 0.1) == pytest.approx(full - 5.0)
    assert estimate_eta(sizes, nfcs, 100, 2, 100, 1.0) == 0.0
    assert 1 < r1 < r2 and scale_work([100, 100], 64) > 4 * scale_work([50, 50], 32)
    assert scale_label(0, 8) == "scale 1 of 8" and scale_label(7, 8) == "scale 8 of 8"


def test_training_log_figure(trained) -> None:
    from singanseg_core.analysis.figures import training_log_figure

    out, *_ = trained
    log = read_training_log(out)
    fig = training_log_figure(log)
    assert len(fig.data) == len(LOSS_KEYS) * 2
    rec = [t for t in fig.data if t.name.startswith("reconstruction")]
    assert [list(t.x) for t in rec] == [[1, 2, 4, 5], [6, 7, 9, 10]]     # scale 2 continues after scale 1's 5
    assert list(rec[1].y) == log["scales"][1]["losses"]["rec"]
    texts = [a.text for a in fig.layout.annotations]
    assert any("scale 1 of 2" in t for t in texts) and any("scale 2 of 2" in t for t in texts)
    assert "finished" in fig.layout.title.text and tuple(fig.layout.xaxis.range) == (0, 10)
    # a log still training: the x axis spans every scale already, the title says where it stands
    live = dict(log, state="training", scale=0, eta_s=120.0, num_scales=4, scales=log["scales"][:1])
    fig = training_log_figure(live)
    assert tuple(fig.layout.xaxis.range) == (0, 20) and "training scale 1 of 4, about 2 min left" in fig.layout.title.text


def test_train_job_status_has_timing(demo_ws) -> None:
    from singanseg_core.services import jobs

    stem = demo_ws.dataset_pairs("demo-ihc")[0][0]
    job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [stem], "names": {stem: "timed"},
                                         "preset": "tiny", "device": "cpu",
                                         "overrides": {"max_size": 28, "niter": 4}}, start=False)
    assert jobs.run_job(job.dir) == 0
    job = jobs.get_job(demo_ws, job.id)
    assert job.state == "done", job.message
    status, item = job.status, job.items["timed"]
    for where in (status, item):
        assert where["scale"] == where["num_scales"] == 2       # 1-based: the last scale is "scale 2 of 2"
        assert where["s_per_it"] > 0 and where["eta_s"] == 0.0
    assert "scale 2/2 done" in (job.dir / "log.txt").read_text()
    assert read_training_log(demo_ws.checkpoints / "timed")["state"] == "finished"
