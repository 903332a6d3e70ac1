"""The patch nearest-neighbour baseline as a source of synthetic pairs: samples folders, the ``baseline`` CLI
command and ``StudyConfig.synthetic_source = "patchnn"``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from singanseg_core.baselines import PatchNN, PatchNNConfig, write_baseline_samples, write_baseline_set
from singanseg_core.cli.main import main
from singanseg_core.errors import InputError
from singanseg_core.segmentation import SegConfig, sample_pairs
from singanseg_core.studies import StudyConfig, run_study

from tests.helpers import POLYPS, polyp, polyp_stems, needs_shared

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = PatchNNConfig(max_size=40, iters=2)


@pytest.fixture(scope="module")
def gen() -> PatchNN:
    return PatchNN.from_files(*polyp(polyp_stems()[0]), SMALL)


def test_samples_folder_is_read_like_engine_samples_and_extends_without_changing(gen, tmp_path):
    rows = write_baseline_samples(gen, tmp_path / "a", 3, seed=5, name="p1")
    assert rows["index"].tolist() == [0, 1, 2] and set(rows["gen_start_scale"]) == {0}
    pairs = sample_pairs(tmp_path / "a")
    assert [p.name for p in pairs] == ["p1_s0_0_img", "p1_s0_1_img", "p1_s0_2_img"]
    for _, row in rows.iterrows():
        mask = np.asarray(Image.open(tmp_path / "a" / row["mask"]))
        assert set(np.unique(mask)) <= {0, 255}
        assert row["true_pixel_pct"] == pytest.approx((mask > 0).mean() * 100, abs=1e-3)
        assert Image.open(tmp_path / "a" / row["image"]).size == (gen.size[1], gen.size[0])
    # two samples, then one more from index 2: the same files as three at once
    write_baseline_samples(gen, tmp_path / "b", 2, seed=5, name="p1")
    write_baseline_samples(gen, tmp_path / "b", 1, seed=5, name="p1", start_index=2)
    manifest = pd.read_csv(tmp_path / "b" / "manifest.csv")
    assert manifest["index"].tolist() == [0, 1, 2]
    for f in rows["image"].tolist() + rows["mask"].tolist():
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    other = write_baseline_samples(gen, tmp_path / "c", 1, seed=6, name="p1")
    assert (tmp_path / "c" / other["image"][0]).read_bytes() != (tmp_path / "a" / rows["image"][0]).read_bytes()
    with pytest.raises(InputError, match="name"):
        write_baseline_samples(gen, tmp_path / "d", 1, name="../x")
    with pytest.raises(InputError, match="already exists"):
        write_baseline_set(gen, tmp_path / "a", 1)


def test_cli_baseline_writes_a_sample_set(tmp_path, capsys):
    image, mask = polyp(polyp_stems()[1])
    out = tmp_path / "set"
    assert main(["baseline", "--image", str(image), "--mask", str(mask), "--out", str(out), "--n", "2",
                 "--seed", "1", "--max-size", "40"]) == 0
    assert "2 patch-NN samples" in capsys.readouterr().out
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == 2 and all((out / f).is_file() for f in manifest["image"].tolist() + manifest["mask"].tolist())
    assert max(Image.open(out / manifest["image"][0]).size) == 40
    assert main(["baseline", "--image", str(image), "--mask", str(mask), "--out", str(out), "--n", "1"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["baseline", "--image", str(image), "--mask", str(mask), "--out", str(tmp_path / "x"),
                 "--n", "0"]) == 1
    assert "--n: must be an integer in 1..100000" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@needs_shared
def test_study_with_patchnn_source_trains_no_model(tmp_path):
    with pytest.raises(InputError, match="synthetic_source"):
        StudyConfig(kind="small-data", data_dir=str(POLYPS), synthetic_source="gan")
    seg = SegConfig(encoder_name="mobilenet_v2", encoder_weights=None, image_size=32, batch_size=4, epochs=1,
                    lr=1e-3, augment=False, device="cpu")
    cfg = StudyConfig(kind="small-data", data_dir=str(POLYPS), max_images=6, r_values=[2], samples_per_image=2,
                      include_real=False, include_mixed=False, synthetic_source="patchnn", singan_preset="quick",
                      singan_overrides=dict(min_size=16, max_size=24), seg=seg, device="cpu")
    res = run_study(cfg, tmp_path / "s")
    assert res.table["run_id"].tolist() == ["R002-synthetic-raw"] and res.table["n_train"].tolist() == [4]
    assert not (tmp_path / "s" / "models").exists()  # nothing trained
    manifests = [pd.read_csv(m) for m in sorted((tmp_path / "s" / "samples").glob("*/manifest.csv"))]
    assert len(manifests) == 2 and all(len(m) == 2 for m in manifests)
    from singanseg_core.files.pairs import load_pair
    from singanseg_core.training.fit import schedule_for

    for m in manifests:  # the size a SinGAN-Seg model of the same settings would have
        stem = m["checkpoint"][0]
        img = Image.open(tmp_path / "s" / "samples" / stem / m["image"][0])
        h, w = schedule_for(load_pair(*polyp(stem)), cfg.singan_config()).sizes[-1]
        assert img.size == (w, h) and max(img.size) <= 25


@needs_shared
def test_study_folders_made_before_synthetic_source_existed_still_resume(tmp_path):
    import json

    from singanseg_core.studies.run import check_rerun

    cfg = StudyConfig(kind="small-data", data_dir=str(POLYPS))
    old = cfg.to_dict()
    del old["synthetic_source"]
    (tmp_path / "study.json").write_text(json.dumps(old))
    check_rerun(tmp_path, cfg)   # the default then: accepted
    cfg.synthetic_source = "patchnn"
    with pytest.raises(InputError, match="synthetic_source"):
        check_rerun(tmp_path, cfg)
