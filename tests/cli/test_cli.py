import pytest
"""CLI end to end: train → info → sample, and one-line errors with a non-zero exit code."""

import subprocess
import sys

import pandas as pd

from singanseg_core.cli.main import main
from tests.helpers import polyp

STEM = "cju5k3j3uf6de0817hszzfr7n"


@pytest.mark.slow
def test_train_info_sample_end_to_end(tmp_path, capsys):
    img, msk = polyp(STEM)
    ck = tmp_path / "ck"
    assert main(["train", "--image", str(img), "--mask", str(msk), "--out", str(ck), "--preset", "tiny",
                 "--max-size", "30", "--iters", "3", "--seed", "1", "--device", "cpu"]) == 0
    assert "saved cju5k3j3uf6de0817hszzfr7n: 2 scales" in capsys.readouterr().out
    assert main(["info", "--checkpoint", str(ck)]) == 0
    info = capsys.readouterr().out
    assert "finished" in info and "image + mask" in info
    out = tmp_path / "s"
    assert main(["sample", "--checkpoint", str(ck), "--n", "3", "--gen-start-scale", "7", "--seed", "2",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "gen_start_scale=7 is outside 0..2" in captured.err
    m = pd.read_csv(out / "manifest.csv")
    assert list(m.columns[:8]) == ["checkpoint", "checkpoint_path", "seed", "gen_start_scale", "index", "image",
                                   "mask", "true_pixel_pct"]
    assert len(m) == 3 and (m["gen_start_scale"] == 2).all() and (m["seed"] == 2).all()
    for name in list(m["image"]) + list(m["mask"]):
        assert (out / name).is_file()
    # Refuses to overwrite a finished checkpoint.
    assert main(["train", "--image", str(img), "--mask", str(msk), "--out", str(ck), "--preset", "tiny",
                 "--max-size", "30", "--iters", "3", "--seed", "1", "--device", "cpu"]) == 1
    assert "use --overwrite" in capsys.readouterr().err


@pytest.mark.slow
def test_errors_are_one_line_without_traceback(tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_text("hello")
    for args in (["sample", "--checkpoint", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
                 ["train", "--image", str(bad), "--mask", str(bad), "--out", str(tmp_path / "c")]):
        r = subprocess.run([sys.executable, "-m", "singanseg_core", *args], capture_output=True, text=True)
        assert r.returncode == 1
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr
        assert str(tmp_path) in lines[0]
