"""``services.catalog``: the workspace as tables, which job uses which item, deleting an item safely."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from singanseg_core.errors import InputError
from singanseg_core.model import checkpoint_status
from singanseg_core.services import catalog, jobs
from singanseg_core.services.workspace import Workspace


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> None:
    """Submitted jobs stay queued (no worker process is started)."""
    monkeypatch.setattr(jobs, "_spawn", lambda ws, job_dir: None)


def make_old(folder: Path, seconds: float) -> None:
    t = time.time() - seconds
    for p in [*folder.rglob("*"), folder]:
        os.utime(p, (t, t))


def copy_checkpoint(ws: Workspace, name: str, edit=None) -> Path:  # noqa: ANN001
    src = ws.checkpoints / ws.list_checkpoints()[0]
    dest = ws.checkpoints / name
    shutil.copytree(src, dest)
    if edit is not None:
        cfg = json.loads((dest / "config.json").read_text())
        edit(cfg, dest)
        (dest / "config.json").write_text(json.dumps(cfg))
    return dest


def test_checkpoint_table_states_come_from_the_one_finished_rule(demo_ws: Workspace) -> None:
    def partial(cfg, dest):  # noqa: ANN001, ANN202
        cfg["total_scales"] = len(cfg["sizes"]) + 2

    def no_weights(cfg, dest):  # noqa: ANN001, ANN202
        (dest / "model.safetensors").unlink()  # config.json says "all scales trained": still not usable

    copy_checkpoint(demo_ws, "half", partial)
    copy_checkpoint(demo_ws, "noweights", no_weights)
    copy_checkpoint(demo_ws, "garbled", lambda cfg, dest: cfg.clear())
    table = catalog.checkpoint_table(demo_ws).set_index("checkpoint")
    n = len(json.loads((demo_ws.checkpoints / "half" / "config.json").read_text())["sizes"])
    assert table.loc["half", "state"] == f"partial {n}/{n + 2}"
    assert table.loc["noweights", "state"] == "broken" and "model.safetensors" in table.loc["noweights", "note"]
    assert table.loc["garbled", "state"] == "broken" and table.loc["garbled", "note"]
    for name in demo_ws.list_checkpoints():  # the table never disagrees with checkpoint_status
        state = checkpoint_status(demo_ws.checkpoints / name).state
        assert table.loc[name, "state"].split()[0] == state
    demo = [c for c in table.index if c.startswith("ihc_")]
    assert all(table.loc[c, "state"] == "finished" and table.loc[c, "scales"] >= 2 for c in demo)


def test_tables_list_newest_first(demo_ws: Workspace) -> None:
    shutil.copytree(demo_ws.datasets / "demo-ihc", demo_ws.datasets / "aaa-old")
    shutil.copytree(demo_ws.datasets / "demo-ihc", demo_ws.datasets / "zzz-new")
    make_old(demo_ws.datasets / "aaa-old", 10**6)
    make_old(demo_ws.datasets / "demo-ihc", 10**5)
    assert catalog.newest_first(demo_ws, "datasets") == ["zzz-new", "demo-ihc", "aaa-old"]
    table = catalog.dataset_table(demo_ws)
    assert list(table["dataset"]) == ["zzz-new", "demo-ihc", "aaa-old"] and set(table["pairs"]) == {8}
    for category in catalog.CATEGORIES:
        frame = catalog.table(demo_ws, category)
        assert list(frame.iloc[:, 0]) == catalog.newest_first(demo_ws, category)
    samples = catalog.sample_set_table(demo_ws)
    from singanseg_core.services.demo import DEMO_CHECKPOINTS

    assert samples["pairs"].iloc[0] == 8 * len(DEMO_CHECKPOINTS) and samples["seeds"].iloc[0] != ""  # 8 each


def test_settings_table_is_readable_rows() -> None:
    frame = catalog.settings_table({"config": {"niter": 200, "lr_g": 0.0005, "sizes": list(range(20))},
                                    "device": "cpu", "missing": None}, "train")
    rows = dict(zip(frame["setting"], frame["value"]))
    assert rows["train.config.niter"] == "200" and rows["train.config.lr_g"] == "0.0005"
    assert rows["train.device"] == "cpu" and rows["train.missing"] == ""
    assert rows["train.config.sizes"].endswith("… (20 values)")


def test_job_targets_and_captions_name_what_each_job_uses(demo_ws: Workspace, queued: None) -> None:
    from singanseg_core.services.demo import DEMO_SAMPLES

    ck = demo_ws.list_checkpoints()[0]
    stems = [s for s, _, _ in demo_ws.dataset_pairs("demo-ihc")][:2]
    train = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": stems, "names": {stems[0]: "first"},
                                           "preset": "tiny"}, title="t")
    style = jobs.submit(demo_ws, "style-batch", {"samples": DEMO_SAMPLES, "images": [], "out": "restyled",
                                                 "ratio": "1:10", "steps": 2}, title="s")
    t = catalog.job_targets(train)
    assert [r.path for r in t["reads"]] == ["datasets/demo-ihc"]
    assert [r.path for r in t["writes"]] == ["checkpoints/first", f"checkpoints/{stems[1]}"]
    s = catalog.job_targets(style, demo_ws)
    assert catalog.ItemRef("samples", DEMO_SAMPLES) in s["reads"]
    assert catalog.ItemRef("checkpoints", ck) in s["reads"]  # its manifest's checkpoints give the style images
    assert [r.path for r in s["writes"]] == ["style/restyled"]
    assert catalog.job_caption(style).startswith("created ") and "→ style/restyled" in catalog.job_caption(style)
    assert catalog.job_outputs(train) == [r.path for r in t["writes"]]


def test_delete_is_refused_while_a_job_uses_the_item_and_works_after(demo_ws: Workspace, queued: None) -> None:
    ck = demo_ws.list_checkpoints()[0]
    job = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 2, "out": "later"}, title="sample later")
    with pytest.raises(InputError, match=f"checkpoint {ck} is used by the queued job 'sample later'"):
        catalog.delete_item(demo_ws, "checkpoints", ck)
    assert (demo_ws.checkpoints / ck / "config.json").is_file()
    assert [j.id for j in catalog.jobs_using(demo_ws, "checkpoints", ck)] == [job.id]
    jobs.cancel(demo_ws, job.id)  # a queued job without a worker is cancelled at once
    assert catalog.delete_item(demo_ws, "checkpoints", ck) == f"Deleted checkpoint {ck} (checkpoints/{ck})."
    assert not (demo_ws.checkpoints / ck).exists() and ck not in demo_ws.list_checkpoints()
    assert not [p for p in demo_ws.checkpoints.iterdir() if ".deleting-" in p.name]


def test_delete_refuses_unknown_names_kinds_and_paths(demo_ws: Workspace) -> None:
    with pytest.raises(InputError, match="not found"):
        catalog.delete_item(demo_ws, "datasets", "nope")
    with pytest.raises(InputError, match="unknown item kind"):
        catalog.delete_item(demo_ws, "jobs", "x")
    with pytest.raises(InputError):
        catalog.delete_item(demo_ws, "datasets", "../checkpoints")
    (demo_ws.datasets / "loose").mkdir()  # not a dataset (no images/ + masks/): not deleted through here
    with pytest.raises(InputError, match="not a dataset"):
        catalog.delete_item(demo_ws, "datasets", "loose")
    assert catalog.delete_item(demo_ws, "datasets", "demo-ihc").startswith("Deleted dataset demo-ihc")
    assert demo_ws.list_datasets() == []


def test_delete_refuses_a_checkpoint_another_process_is_writing(demo_ws: Workspace) -> None:
    from singanseg_core.files.atomic import folder_lock

    ck = demo_ws.list_checkpoints()[0]
    with folder_lock(demo_ws.checkpoints / ck, "checkpoint"):
        with pytest.raises(InputError, match="being written by another process"):
            catalog.delete_item(demo_ws, "checkpoints", ck)
    assert (demo_ws.checkpoints / ck / "model.safetensors").is_file()


def test_item_state_shows_running_items_as_running() -> None:
    assert catalog.item_state({"state": "queued", "progress": 0.4}) == "running"
    assert catalog.item_state({"state": "queued", "progress": 0.0}) == "queued"
    assert catalog.item_state({"state": "done", "progress": 1.0}) == "done"


def test_items_of_a_stopped_job_do_not_show_as_running() -> None:
    """A record that still marks an item running after its job ended cancelled (or interrupted) shows the job's
    state, not "running"."""
    for job_state in ("cancelled", "interrupted"):
        assert catalog.item_state({"state": "running", "progress": 0.3}, job_state) == job_state
        assert catalog.item_state({"state": "queued", "progress": 0.0}, job_state) == job_state
        assert catalog.item_state({"state": "done", "progress": 1.0}, job_state) == "done"
    assert catalog.item_state({"state": "running", "progress": 0.3}, "running") == "running"
