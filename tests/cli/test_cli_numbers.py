"""Every sub-command refuses a bad number with one line naming the option and its range, exit code 1."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from singanseg_core.cli.main import build_parser, main
from testkit.hostile import decompression_bomb_png
from tests.helpers import polyp

STEM = "cju5k3j3uf6de0817hszzfr7n"


def leaf_parsers() -> dict[str, argparse.ArgumentParser]:
    """``"train"``, ``"jobs cancel"``, ... → the parser of every sub-command that runs something."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and words:
            found[" ".join(words)] = parser
        for sub in subs:
            for name, child in sub.choices.items():
                walk(child, words + [name])

    walk(build_parser(), [])
    return found


def numeric_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and hasattr(a.type, "bounds")]


def run_one(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def test_every_number_of_every_command_has_a_range() -> None:
    """No sub-command takes a bare int/float: each number is checked by a validator with a range."""
    leaves = leaf_parsers()
    assert {"train", "train-many", "sample", "info", "stats", "style", "style-batch", "segment train",
            "study small-data", "jobs cancel", "pretrained download", "demo build"} <= set(leaves)
    for name, parser in leaves.items():
        for action in parser._actions:
            if action.type in (int, float):
                assert action.choices, f"{name} {action.option_strings}: a number without a range"


@pytest.mark.slow
def test_every_command_refuses_out_of_range_numbers_in_one_line(capsys: pytest.CaptureFixture) -> None:
    checked = 0
    for name, parser in leaf_parsers().items():
        for action in numeric_options(parser):
            lo, hi = action.type.bounds
            for bad in (lo - 1 if lo - 1 < lo else "-inf", hi * 10 + 1 if hi else 1, "nan", "x"):
                option = action.option_strings[-1]
                code, err = run_one([*name.split(), option, str(bad)], capsys)
                lines = [ln for ln in err.splitlines() if ln.strip()]
                assert code == 1, (name, option, bad, err)
                assert len(lines) == 1 and lines[0].startswith("error: "), (name, option, bad, err)
                assert f"argument {option}" in lines[0] or option in lines[0], (name, option, lines[0])
                span = f"{lo}..{hi}" if isinstance(lo, int) else f"{lo:g}..{hi:g}"
                assert f" in {span}" in lines[0], lines[0]
                assert "Traceback" not in err
                checked += 1
    assert checked > 150


@pytest.mark.parametrize("argv, words", [
    (["train", "--image", "i", "--out", "o", "--device", "bogus"], "argument --device: device 'bogus'"),
    (["sample", "--checkpoint", "c", "--out", "o", "--device", "cuda:x"], "argument --device"),
    (["segment", "predict", "--model", "m", "--input", "i", "--out", "o", "--device", "tpu"], "argument --device"),
    (["study", "small-data", "--data", "d", "--out", "o", "--device", "bogus"], "argument --device"),
    (["style", "--content", "a", "--style", "b", "--out", "c", "--device", "bogus"], "argument --device"),
    (["train", "--image", "i", "--out", "o", "--name", "../../x"], "argument --name: name '../../x' must be a plain"),
    (["import-legacy", "a", "b", "--name", "a/b"], "argument --name"),
    (["stats", "--out", "o", "--bin-width", "1e-9"], "argument --bin-width: must be a number in 0.1..100"),
    (["sample", "--checkpoint", "c", "--out", "o", "--scale-h", "0"], "argument --scale-h: must be a number in 0.25..4"),
    (["train-many", "--data", "d", "--out", "o", "--parallel", "0"], "--parallel must be at least 1"),
    (["train", "--image", "i"], "the following arguments are required: --out"),
    (["info", "--checkpoint", "c", "--nope"], "unrecognized arguments: --nope"),
])
def test_named_bad_values(argv: list[str], words: str, capsys: pytest.CaptureFixture) -> None:
    code, err = run_one(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1 and words in lines[0], err


@pytest.mark.slow
def test_real_process_bad_number_and_bomb(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Through ``python -m singanseg_core`` too: one stderr line, exit 1, no traceback; and a PNG that claims
    900 megapixels (PIL's decompression bomb) is one line as well."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(decompression_bomb_png())
    img, msk = polyp(STEM)
    code, err = run_one(["train", "--image", str(bomb), "--mask", str(bomb), "--out", str(tmp_path / "c")], capsys)
    assert code == 1 and err.count("\n") == 1 and "bomb.png: claims more than 50 megapixels" in err, err
    for argv, words in ((["train", "--image", str(img), "--mask", str(msk), "--out", str(tmp_path / "c"),
                          "--iters", "0"], "--iters: must be an integer in 1..1000000"),):
        r = subprocess.run([sys.executable, "-m", "singanseg_core", *argv], capture_output=True, text=True)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 1 and len(lines) == 1 and words in lines[0], r.stderr
    assert not (tmp_path / "c").exists()
