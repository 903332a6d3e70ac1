"""One bad JSON file never takes a listing down: every reader of untrusted JSON turns any parse problem (huge
integers, deep nesting, bad bytes) into that file's own one-line error, and the tables list the rest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from singanseg_core.errors import CheckpointError, InputError
from singanseg_core.files.bounded_json import MAX_DEPTH, MAX_INT_DIGITS, UnreadableJSONError, loads_bounded, read_json
from singanseg_core.model import SinGANSeg, checkpoint_status
from singanseg_core.model.training_log import read_training_log
from singanseg_core.services import catalog, jobs
from singanseg_core.services.workspace import Workspace
from singanseg_core.studies.results import load_study

HUGE_INT = b'{"nc_im": ' + b"9" * 5000 + b"}"
DEEP = b"[" * 5000 + b"]" * 5000
HOSTILE = {"huge int": HUGE_INT, "deep": DEEP, "bad bytes": b'{"a": "\xff\xfe"}', "not json": b"{", "empty": b""}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_bounded_reader_names_the_file_for_every_hostile_body(tmp_path: Path, name: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(HOSTILE[name])
    with pytest.raises(UnreadableJSONError) as info:
        read_json(path)
    assert str(path) in str(info.value) and len(str(info.value).splitlines()) == 1
    assert isinstance(info.value, InputError) and isinstance(info.value, CheckpointError)


def test_bounded_reader_caps(tmp_path: Path) -> None:
    assert loads_bounded(b'{"n": ' + b"9" * MAX_INT_DIGITS + b"}", "x")["n"] == int("9" * MAX_INT_DIGITS)
    with pytest.raises(UnreadableJSONError, match="digits"):
        loads_bounded(b"[" + b"1" * (MAX_INT_DIGITS + 1) + b"]", "x")
    assert loads_bounded("[" * MAX_DEPTH + "]" * MAX_DEPTH, "x") is not None
    with pytest.raises(UnreadableJSONError, match="nested deeper"):
        loads_bounded("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "x")
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"a": "x" * 2000}))
    with pytest.raises(UnreadableJSONError, match="larger than 1000 bytes"):
        read_json(big, max_bytes=1000)
    with pytest.raises(UnreadableJSONError, match="expected a JSON dict, found a list"):
        read_json(_write(tmp_path / "l.json", b"[]"))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["huge int", "deep", "bad bytes"])
def test_a_bad_config_is_its_own_line_and_the_tables_list_the_rest(demo_ws: Workspace, name: str) -> None:
    good = demo_ws.list_checkpoints()
    bad = demo_ws.checkpoints / "bad"
    shutil.copytree(demo_ws.checkpoints / good[0], bad)
    (bad / "config.json").write_bytes(HOSTILE[name])
    status = checkpoint_status(bad)
    assert status.state == "broken" and str(bad / "config.json") in status.message and status.unreadable
    with pytest.raises(CheckpointError, match="config.json: unreadable, not valid JSON"):
        SinGANSeg.from_pretrained(bad)
    table = catalog.checkpoint_table(demo_ws).set_index("checkpoint")
    assert table.loc["bad", "state"].startswith("unreadable: ")
    assert all(table.loc[n, "state"] == "finished" for n in good)
    assert demo_ws.list_checkpoints() == good and "bad" in demo_ws.checkpoint_problems()
    assert "bad" in catalog.item_names(demo_ws, "checkpoints")


def test_training_log_job_and_study_files_with_huge_numbers(demo_ws: Workspace, tmp_path: Path) -> None:
    ck = demo_ws.checkpoints / demo_ws.list_checkpoints()[0]
    (ck / "training_log.json").write_bytes(HUGE_INT)
    with pytest.raises(CheckpointError, match="training_log.json: unreadable, not valid JSON"):
        read_training_log(ck)

    job_dir = demo_ws.jobs / "20240101-000000-bad"
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / "spec.json").write_bytes(HUGE_INT)
    (job_dir / "status.json").write_bytes(DEEP)
    jobs.list_jobs(demo_ws)  # a broken job file is skipped or shown empty, never raised

    study = demo_ws.studies / "s"
    study.mkdir(parents=True)
    (study / "study.json").write_bytes(HUGE_INT)
    with pytest.raises(InputError, match="study.json: unreadable, not valid JSON"):
        load_study(study)
    table = catalog.study_table(demo_ws).set_index("study")
    assert table.loc["s", "kind"] in ("starting",) or str(table.loc["s", "kind"]).startswith("problem")
