"""Every dashboard page under ``streamlit.testing.v1.AppTest``: widgets → core → outputs, errors as one line.

Job submissions are recorded instead of spawning workers (the job machinery has its own tests).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from singanseg_core.services import jobs
from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page, png, save_samples
from ui.page_list import PAGES as PAGE_LIST

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["app.py"] + [entry.path for entry in PAGE_LIST[1:]]  # app.py draws Home (the default page)


WIDGETS = ("button", "selectbox", "multiselect", "slider", "select_slider", "number_input", "text_input", "radio",
           "checkbox", "file_uploader", "download_button")


@pytest.mark.slow
@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_help_on_every_control(demo_ws: Workspace, path: str) -> None:
    at = ok(page(path).run())
    assert at.title, "every page has a title"
    controls = [w for kind in WIDGETS for w in at.get(kind)]
    no_help = [getattr(w.proto, "label", w.type) for w in controls if not getattr(w.proto, "help", "")]
    assert not no_help, f"controls without help text on {path}: {no_help}"


def test_home_shows_workspace_device_and_links(demo_ws: Workspace) -> None:
    at = ok(page("app.py").run())
    metrics = {m.label: m.value for m in at.metric}
    from singanseg_core.services.demo import DEMO_CHECKPOINTS

    assert metrics["Datasets"] == "1" and metrics["Checkpoints"] == str(len(DEMO_CHECKPOINTS))
    text = " ".join(e.value for e in list(at.info) + list(at.success) + list(at.warning))
    assert "demo set" in text and "Kvasir-SEG" in text
    assert "Device:" in text and "VGG19" in text
    assert len(at.get("page_link")) == 6


def test_home_describes_the_demo_from_its_specs_and_the_note_goes_with_data_of_ones_own(demo_ws: Workspace) -> None:
    """The demo's description counts what the workspace holds and reads each checkpoint's settings from
    ``DEMO_SPECS`` (no hand-written "2 checkpoints, 64 px"); once the user adds a dataset of their own the demo
    notes go."""
    import shutil

    from singanseg_core.services.demo import DEMO_SPECS

    def demo_text(at: AppTest) -> str:
        return " ".join(e.value for e in at.info if "demo set" in e.value)

    names = [n for n in demo_ws.list_checkpoints() if n in DEMO_SPECS]
    at = ok(page("app.py").run())
    text = demo_text(at)
    assert f"{len(names)} demo checkpoints" in text, text
    for name in names:
        cfg = DEMO_SPECS[name].config()
        assert f"{cfg.max_size} px with {cfg.niter} iterations per scale" in text, text
    assert f"{len(demo_ws.dataset_pairs('demo-ihc'))} tiles" in text
    assert any("Demo data is loaded" in c.value for c in at.sidebar.caption)
    shutil.rmtree(demo_ws.checkpoints / names[0])
    assert f"{len(names) - 1} demo checkpoint" in demo_text(ok(page("app.py").run()))
    mask = np.zeros((20, 24), np.uint8)
    mask[5:15, 5:15] = 255
    demo_ws.add_pairs("mine", [("x.png", png(np.full((20, 24, 3), 90, np.uint8)), png(mask))])
    at = ok(page("app.py").run())
    assert not demo_text(at) and not any("Demo data is loaded" in c.value for c in at.sidebar.caption)


@pytest.mark.slow
def test_fresh_workspace_gets_the_demo_on_first_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.services.demo import DEMO_CHECKPOINTS, DEMO_SAMPLES

    root = tmp_path / "fresh"
    monkeypatch.setenv("SINGANSEG_WORKSPACE", str(root))
    at = ok(page("app.py").run())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Checkpoints"] == str(len(DEMO_CHECKPOINTS)) and metrics["Sample sets"] == "1"
    frame = pd.read_csv(root / "samples" / DEMO_SAMPLES / "manifest.csv")
    assert len(frame) == 8 * len(DEMO_CHECKPOINTS)


def test_unexpected_error_is_one_friendly_line(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self):  # noqa: ANN001, ANN202
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(Workspace, "counts", boom)
    at = page("app.py").run()
    assert not at.exception
    assert len(at.error) == 1
    msg = at.error[0].value
    assert msg.startswith("Something went wrong: RuntimeError: disk on fire") and "second line" not in msg
    assert "RuntimeError" in (demo_ws.logs / "dashboard.log").read_text()


@pytest.mark.slow
def test_checkpoints_browse(demo_ws: Workspace) -> None:
    at = ok(page("pages/Checkpoints.py").run())
    table = at.dataframe[0].value
    assert sorted(table["checkpoint"]) == sorted(demo_ws.list_checkpoints())
    assert set(table["state"]) == {"finished"}
    assert "scales" in " ".join(m.value for m in at.markdown)
    assert len(at.dataframe) >= 2  # overview + scales of the picked checkpoint


@pytest.mark.slow
def test_checkpoints_upload_pairs_and_errors(demo_ws: Workspace) -> None:
    at = page("pages/Checkpoints.py").run()
    img = png(np.full((20, 24, 3), 90, np.uint8))
    mask = np.zeros((20, 24), np.uint8)
    mask[5:15, 5:15] = 255
    by_key(at, "text_input", "up_dataset").set_value("uploaded")
    by_key(at, "file_uploader", "up_images").upload("x1.png", img, "image/png")
    by_key(at, "file_uploader", "up_masks").upload("x1.png", png(mask), "image/png")
    at = by_key(at.run(), "button", "up_add").click().run()
    ok(at)
    assert any("Added 1 pair" in s.value for s in at.success)
    assert (demo_ws.datasets / "uploaded" / "images" / "x1.png").is_file()

    at = page("pages/Checkpoints.py").run()
    by_key(at, "file_uploader", "up_images").upload("bad.png", b"this is not a png", "image/png")
    by_key(at, "file_uploader", "up_masks").upload("bad.png", png(mask), "image/png")
    at = by_key(at.run(), "button", "up_add").click().run()
    assert not at.exception and len(at.error) == 1 and "not a readable image" in at.error[0].value

    at = page("pages/Checkpoints.py").run()
    by_key(at, "file_uploader", "up_images").upload("lonely.png", img, "image/png")
    at = by_key(at.run(), "button", "up_add").click().run()
    assert not at.exception and "no mask with the same name" in at.error[0].value


@pytest.mark.slow
def test_checkpoints_upload_names_the_mask_file_and_lists_every_problem(demo_ws: Workspace) -> None:
    colour = np.zeros((20, 24, 3), np.uint8)
    colour[:10], colour[10:] = (255, 0, 0), (0, 0, 255)
    at = page("pages/Checkpoints.py").run()
    for name, arr in (("sizediff.jpg", np.full((200, 300, 3), 90, np.uint8)),
                      ("col.jpg", np.full((20, 24, 3), 60, np.uint8))):
        by_key(at, "file_uploader", "up_images").upload(name, png(arr), "image/jpeg")
    for name, arr in (("sizediff.png", np.zeros((20, 30), np.uint8)), ("col.png", colour)):
        by_key(at, "file_uploader", "up_masks").upload(name, png(arr), "image/png")
    at = by_key(at.run(), "button", "up_add").click().run()
    assert not at.exception and len(at.error) == 1
    text = at.error[0].value
    assert "sizediff.png (mask): mask is 30x20 px but image sizediff.jpg" in text, text
    assert "col.png (mask): a colour mask" in text and "jpg (mask)" not in text, text
    assert not (demo_ws.datasets / "my-data").exists()


@pytest.mark.slow
def test_checkpoints_zip_upload_rejects_traversal(demo_ws: Workspace) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("images/a.png", b"x")
        zf.writestr("masks/a.png", b"x")
        zf.writestr("../../escape.png", b"x")
    at = page("pages/Checkpoints.py").run()
    by_key(at, "radio", "up_mode").set_value("zip (Kvasir-SEG layout)")
    at = at.run()
    by_key(at, "file_uploader", "up_zip").upload("evil.zip", buf.getvalue(), "application/zip")
    at = by_key(at.run(), "button", "up_zip_go").click().run()
    assert not at.exception and len(at.error) == 1 and "unsafe path" in at.error[0].value
    assert not (demo_ws.root.parent / "escape.png").exists()
    assert demo_ws.list_datasets() == ["demo-ihc"]


def test_checkpoints_train_job(demo_ws: Workspace, spawned: list[Path]) -> None:
    at = page("pages/Checkpoints.py").run()
    by_key(at, "selectbox", "tr_preset").set_value("tiny")
    at = at.run()
    assert by_key(at, "number_input", "tr_max_tiny").value == 40  # the preset's own defaults
    by_key(at, "number_input", "tr_iter_tiny").set_value(10)
    at = by_key(at.run(), "button", "tr_go").click().run()
    ok(at)
    assert len(spawned) == 1
    spec = json.loads((spawned[0] / "spec.json").read_text())
    assert spec["kind"] == "train" and spec["args"]["preset"] == "tiny"
    assert spec["args"]["overrides"] == {"max_size": 40, "niter": 10, "seed": 0}
    assert len(spec["args"]["stems"]) == 1 and spec["args"]["parallel"] == 1
    assert any("train 1 model" in m.value for m in at.markdown)  # the live job panel lists it


def test_train_form_default_preset_follows_the_choice_and_says_how_long(demo_ws: Workspace) -> None:
    at = page("pages/Checkpoints.py").run()
    ok(at)
    stems = by_key(at, "multiselect", "tr_stems")
    assert len(stems.value) == 1 and by_key(at, "selectbox", "tr_preset").value == "live"   # one image: live
    assert any("Estimated training time on this machine: about" in c.value for c in at.caption)
    at = by_key(at, "multiselect", "tr_stems").set_value(stems.options[:2]).run()
    assert by_key(at, "selectbox", "tr_preset").value == "quick"                         # several: quick
    at = by_key(at, "selectbox", "tr_preset").set_value("tiny").run()
    at = by_key(at, "multiselect", "tr_stems").set_value(stems.options[:1]).run()
    assert by_key(at, "selectbox", "tr_preset").value == "tiny"                          # their own pick stays
    assert "live: 128 px" in by_key(at, "selectbox", "tr_preset").help


def test_job_panel_delete_and_clear_finished(demo_ws: Workspace, spawned: list[Path]) -> None:
    made = []
    for i, state in enumerate(["done", "done", "failed"]):
        job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [], "preset": "tiny"}, title=f"t{i}")
        jobs._write_status(job.dir, {**job.status, "state": state, "message": state})
        made.append(job)
    at = ok(page("pages/Checkpoints.py").run())
    at = by_key(at, "button", f"delete_train_{made[2].id}").click().run()  # the failed one, by its row button
    ok(at)
    assert not made[2].dir.exists() and made[0].dir.exists()
    at = by_key(at, "button", "clear_train").click().run()  # "Clear 2 finished"
    ok(at)
    assert not made[0].dir.exists() and not made[1].dir.exists()
    assert not any(k.key == "clear_train" for k in at.button)  # nothing finished left to clear


@pytest.mark.slow
def test_checkpoints_import_legacy_job(demo_ws: Workspace, spawned: list[Path]) -> None:
    (demo_ws.legacy / "published" / "0").mkdir(parents=True)
    at = page("pages/Checkpoints.py").run()
    assert by_key(at, "selectbox", "lg_src").value == "published"
    at = by_key(at, "button", "lg_go").click().run()
    ok(at)
    spec = json.loads((spawned[0] / "spec.json").read_text())
    assert spec == {**spec, "kind": "import-legacy", "args": {"src": "legacy/published"}}


@pytest.mark.slow
def test_sample_generate_save_download(demo_ws: Workspace) -> None:
    at = page("pages/Sample.py").run()
    model_scales = json.loads((demo_ws.checkpoints / demo_ws.list_checkpoints()[0] / "config.json").read_text())
    slider = by_key(at, "slider", "sm_start")
    assert slider.proto.max == len(model_scales["sizes"])  # limited to the model's scales
    assert any("fresh noise" in c.value and "scales" in c.value for c in at.caption)
    by_key(at, "number_input", "sm_n").set_value(4)
    at = by_key(at.run(), "button", "sm_go").click().run()
    ok(at)
    assert any("4 samples" in s.value for s in at.success)
    images = at.get("image")
    assert len(images) >= 4 + 3  # 4 tiles + real + mean + std
    at = by_key(at, "button", "sm_save").click().run()
    ok(at)
    from singanseg_core.services.demo import DEMO_SAMPLES

    saved = [s for s in demo_ws.list_sample_sets() if s != DEMO_SAMPLES]
    assert len(saved) == 1
    frame = pd.read_csv(demo_ws.samples / saved[0] / "manifest.csv")
    assert len(frame) == 4 and (demo_ws.samples / saved[0] / frame["mask"][0]).is_file()
    assert at.get("download_button"), "a zip download appears after saving"


def test_sample_same_seed_same_result(demo_ws: Workspace) -> None:
    arrays = []
    for _ in range(2):
        at = page("pages/Sample.py").run()
        by_key(at, "number_input", "sm_n").set_value(2)
        by_key(at.run(), "button", "sm_go").click()
        at = at.run()
        arrays.append(at.session_state["sm_result"]["results"][demo_ws.list_checkpoints()[0]]["images"])
    assert np.array_equal(arrays[0], arrays[1])


@pytest.mark.slow
def test_style_transfer_job_and_results(demo_ws: Workspace, spawned: list[Path]) -> None:
    from singanseg_core.style import StyleTransferConfig, style_transfer_samples

    src = save_samples(demo_ws)
    at = page("pages/Style_transfer.py").run()
    by_key(at, "radio", "st_ratio").set_value("free")
    at = at.run()
    by_key(at, "number_input", "st_free").set_value(50.0)
    by_key(at, "number_input", "st_steps").set_value(3)
    at = by_key(at.run(), "button", "st_go").click().run()
    ok(at)
    spec = json.loads((spawned[0] / "spec.json").read_text())
    assert spec["kind"] == "style-batch" and spec["args"]["ratio"] == "1:50" and spec["args"]["steps"] == 3
    assert len(spec["args"]["images"]) == 4

    style_transfer_samples(src, demo_ws.style / "res", StyleTransferConfig.from_ratio("1:10", steps=2),
                           random_features=True, allow_download=False)
    at = page("pages/Style_transfer.py").run()
    ok(at)
    assert any("random" in c.value for c in at.caption)
    before = at.get("image")[-1].proto.imgs[0].url
    at = by_key(at, "slider", "st_split").set_value(0.9).run()
    ok(at)
    assert at.get("image")[-1].proto.imgs[0].url != before  # the before/after view follows the slider
    assert len(at.get("plotly_chart")) == 1  # the content and style loss curves of the run
    assert any(b.proto.label == "Download zip" for b in at.get("download_button"))


@pytest.mark.slow
def test_mask_statistics(demo_ws: Workspace) -> None:
    save_samples(demo_ws, n=6)
    at = ok(page("pages/Mask_statistics.py").run())
    assert by_key(at, "selectbox", "ms_syn").value == "all saved samples"
    at = ok(by_key(at, "selectbox", "ms_syn").set_value("samples/set1").run())
    assert at.get("plotly_chart"), "a plotly chart is drawn"
    summary = at.dataframe[0].value
    assert list(summary["source"]) == ["real", "synthetic"]
    assert list(summary["count"]) == [1, 6]   # by default: the training mask of set1's one checkpoint
    at = ok(by_key(at, "selectbox", "ms_real").set_value("demo-ihc").run())
    assert list(at.dataframe[0].value["count"]) == [8, 6]   # or every mask of a dataset
    labels = [m.label for m in at.metric]
    assert "Wasserstein-1" in labels and "KS p-value" in labels
    for mode in ("side by side", "grouped"):
        at = ok(by_key(at, "radio", "ms_mode").set_value(mode).run())
        fig = json.loads(at.get("plotly_chart")[0].proto.spec)
        assert len(fig["data"]) == 2


def test_style_transfer_shows_this_machines_estimate_before_the_job_starts(demo_ws: Workspace) -> None:
    from singanseg_core.services.timings import STYLE_BATCH, record_run, style_key

    def estimate_line(at: AppTest) -> str:
        return next(c.value for c in at.caption if ":material/timer:" in c.value)

    at = ok(page("pages/Style_transfer.py").run())
    assert "No time estimate" in estimate_line(at)
    n = len(by_key(at, "multiselect", "st_images").value)
    steps = int(by_key(at, "number_input", "st_steps").value)
    record_run(demo_ws, STYLE_BATCH, style_key(None, "adam"), 10 * steps, 20.0)  # 2 s per image here
    line = estimate_line(ok(page("pages/Style_transfer.py").run()))
    assert f"restyling {n} image(s) with {steps} adam steps takes about {2 * n:.0f} s" in line, line
    assert "last 1 similar run" in line


def test_augmentation_study_launch_and_results(demo_ws: Workspace, spawned: list[Path]) -> None:
    from singanseg_core.studies import StudyConfig
    from singanseg_core.studies.results import TABLE_COLUMNS

    at = ok(page("pages/Augmentation_study.py").run())
    by_key(at, "text_input", "au_r_small-data_demo_demo-ihc").set_value("99")
    at = ok(at.run())
    go = by_key(at, "button", "au_go")
    assert go.disabled and "R=99" in go.proto.help  # refused before launch, and the button says why
    assert any("R=99" in c.value for c in at.caption)
    assert spawned == []
    by_key(at, "text_input", "au_r_small-data_demo_demo-ihc").set_value("1, 2")
    at = by_key(at.run(), "button", "au_go").click().run()
    ok(at)
    spec = json.loads((spawned[0] / "spec.json").read_text())
    assert spec["kind"] == "study" and spec["args"]["overrides"]["r_values"] == [1, 2]

    # an earlier study folder with two finished runs shows up with chart, table and CSV
    d = demo_ws.studies / "earlier"
    (d / "runs").mkdir(parents=True)
    cfg = StudyConfig.from_preset("small-data", "demo", demo_ws.datasets / "demo-ihc", r_values=[1, 2])
    (d / "study.json").write_text(json.dumps(cfg.to_dict()))
    for r, train_data, iou in ((1, "real", 0.4), (1, "synthetic", 0.5)):
        row = dict.fromkeys(TABLE_COLUMNS, 0)
        row.update(run_id=f"R{r:03d}-{train_data}", kind="small-data", train_set=train_data, train_data=train_data,
                   variant="" if train_data == "real" else "raw", R=r, iou=iou, fscore=iou + 0.1)
        (d / "runs" / row["run_id"]).mkdir()
        (d / "runs" / row["run_id"] / "result.json").write_text(json.dumps(row))
    at = ok(page("pages/Augmentation_study.py").run())
    assert any("2 run(s) finished" in c.value for c in at.caption)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in fig["data"]} == {"real", "synthetic (raw)"}
    assert any(b.proto.label == "Download results (CSV)" for b in at.get("download_button"))


# ---------------------------------------------------------------------------------------------- choices stay sensible
def age(folder: Path, seconds: float) -> None:
    """Make ``folder`` and its files look ``seconds`` old (the newest-first order reads modification times)."""
    import os
    import time

    t = time.time() - seconds
    for p in [*folder.rglob("*"), folder]:
        os.utime(p, (t, t))


def write_set(ws: Workspace, name: str, n: int, checkpoint: str, seed: int) -> Path:
    from singanseg_core.model import SinGANSeg
    from singanseg_core.sampling.writer import write_samples

    write_samples(SinGANSeg.from_pretrained(ws.checkpoints / checkpoint), ws.samples / name, n, seed=seed)
    return ws.samples / name


@pytest.mark.slow
def test_every_disabled_button_says_why(demo_ws: Workspace) -> None:
    demo_ws.add_pairs("two", [(f"x{i}.png", png(np.full((20, 24, 3), 90 + i, np.uint8)),  # two different pairs
                                png(np.tile(np.uint8([0, 255]), (20, 12)))) for i in range(2)])
    at = ok(page("pages/Augmentation_study.py").run())  # the newest dataset has 2 images: no 3 folds
    go = by_key(at, "button", "au_go")
    assert go.disabled and go.proto.help.startswith("Disabled: 2 image(s) cannot be split into 3 folds")
    assert any("cannot be split" in c.value for c in at.caption)
    for path in PAGES:
        at = ok(page(path).run())
        for b in at.button:
            assert not b.disabled or b.proto.help.startswith("Disabled: "), (path, b.key)


@pytest.mark.slow
def test_sample_save_name_follows_the_shown_result_until_typed(demo_ws: Workspace) -> None:
    at = page("pages/Sample.py").run()
    by_key(at, "number_input", "sm_n").set_value(2)
    at = ok(by_key(at.run(), "button", "sm_go").click().run())
    ck = at.session_state["sm_result"]["params"]["checkpoints"][0]
    assert by_key(at, "text_input", "sm_save_name").value == f"{ck}-s0-seed0"

    # settings changed but not regenerated: name and saved files still describe what is shown
    by_key(at, "slider", "sm_start").set_value(2)
    by_key(at, "number_input", "sm_seed").set_value(7)
    at = ok(at.run())
    assert by_key(at, "text_input", "sm_save_name").value == f"{ck}-s0-seed0"
    at = ok(by_key(at, "button", "sm_save").click().run())
    frame = pd.read_csv(demo_ws.samples / f"{ck}-s0-seed0" / "manifest.csv")
    assert set(frame["seed"]) == {0} and set(frame["gen_start_scale"]) == {0}

    # regenerated: the default follows the new result, and the saved set is exactly it
    at = ok(by_key(at, "button", "sm_go").click().run())
    assert by_key(at, "text_input", "sm_save_name").value == f"{ck}-s2-seed7"
    at = ok(by_key(at, "button", "sm_save").click().run())
    frame = pd.read_csv(demo_ws.samples / f"{ck}-s2-seed7" / "manifest.csv")
    assert set(frame["seed"]) == {7} and set(frame["gen_start_scale"]) == {2} and len(frame) == 2

    # a typed name stays whatever changes; clearing it follows the result again
    at = ok(by_key(at, "text_input", "sm_save_name").set_value("my-set").run())
    by_key(at, "number_input", "sm_seed").set_value(3)
    at = ok(by_key(at.run(), "button", "sm_go").click().run())
    assert by_key(at, "text_input", "sm_save_name").value == "my-set"
    at = ok(by_key(at, "text_input", "sm_save_name").set_value("").run())
    assert by_key(at, "text_input", "sm_save_name").value == f"{ck}-s2-seed3"


@pytest.mark.slow
def test_sample_redraw_option_reaches_the_name_the_gallery_and_the_saved_set(demo_ws: Workspace) -> None:
    at = page("pages/Sample.py").run()
    by_key(at, "number_input", "sm_n").set_value(3)
    by_key(at, "number_input", "sm_redraw").set_value(2)
    at = ok(by_key(at.run(), "button", "sm_go").click().run())
    ck = at.session_state["sm_result"]["params"]["checkpoints"][0]
    assert at.session_state["sm_result"]["params"]["redraw_empty"] == 2
    assert any("redrawn because their mask was empty" in c.value for c in at.caption)
    assert by_key(at, "text_input", "sm_save_name").value == f"{ck}-s0-seed0-redraw2"
    at = ok(by_key(at, "button", "sm_save").click().run())
    frame = pd.read_csv(demo_ws.samples / f"{ck}-s0-seed0-redraw2" / "manifest.csv")
    assert "redraws" in frame and len(frame) == 3


@pytest.mark.slow
def test_style_transfer_picks_and_name_follow_the_samples_set(demo_ws: Workspace, spawned: list[Path]) -> None:
    ck0, ck1 = demo_ws.list_checkpoints()[:2]
    age(write_set(demo_ws, "a", 6, ck0, 1), 300)
    age(write_set(demo_ws, "b", 3, ck0, 2), 200)   # the same file names as a's first three
    write_set(demo_ws, "c", 2, ck1, 3)             # other names; the newest set
    at = ok(page("pages/Style_transfer.py").run())
    assert by_key(at, "selectbox", "st_set").value == "c"
    at = ok(by_key(at, "selectbox", "st_set").set_value("a").run())
    picks = by_key(at, "multiselect", "st_images").value
    assert len(picks) == 6  # a new set: all of its images
    assert by_key(at, "text_input", "st_out").value == "a-st-1x1000"
    at = ok(by_key(at, "multiselect", "st_images").set_value([picks[0], picks[2], picks[5]]).run())
    at = ok(by_key(at, "selectbox", "st_set").set_value("b").run())
    assert by_key(at, "multiselect", "st_images").value == [picks[0], picks[2]]  # the picks b also has
    assert by_key(at, "text_input", "st_out").value == "b-st-1x1000"
    at = ok(by_key(at, "selectbox", "st_set").set_value("c").run())
    assert len(by_key(at, "multiselect", "st_images").value) == 2  # none of them in c: all of c, never empty
    assert not by_key(at, "button", "st_go").disabled

    at = ok(by_key(at, "multiselect", "st_images").set_value([]).run())  # emptied by hand: stays, says why
    go = by_key(at, "button", "st_go")
    assert go.disabled and "choose at least one generated image" in go.proto.help
    at = ok(by_key(at, "radio", "st_ratio").set_value("1:1 (paper, mild)").run())
    assert by_key(at, "text_input", "st_out").value == "c-st-1x1"
    at = ok(by_key(at, "text_input", "st_out").set_value("mine").run())
    at = ok(by_key(at, "selectbox", "st_set").set_value("a").run())
    assert by_key(at, "text_input", "st_out").value == "mine"
    at = ok(by_key(at, "button", "st_go").click().run())
    spec = json.loads((spawned[0] / "spec.json").read_text())
    assert spec["args"]["out"] == "mine" and spec["args"]["samples"] == "a" and len(spec["args"]["images"]) == 6


@pytest.mark.slow
def test_train_images_stay_valid_and_pickers_default_to_the_newest_dataset(demo_ws: Workspace,
                                                                          spawned: list[Path]) -> None:
    mask = np.zeros((20, 24), np.uint8)
    mask[5:15, 5:15] = 255
    demo_ws.add_pairs("fresh", [(f"x{i}.png", png(np.full((20, 24, 3), 90, np.uint8)), png(mask)) for i in (1, 2)])
    at = ok(page("pages/Checkpoints.py").run())
    assert by_key(at, "selectbox", "tr_dataset").value == "fresh"
    assert by_key(at, "multiselect", "tr_stems").value == ["x1"]
    at = ok(by_key(at, "multiselect", "tr_stems").set_value(["x1", "x2"]).run())
    at = ok(by_key(at, "selectbox", "tr_dataset").set_value("demo-ihc").run())
    stems = by_key(at, "multiselect", "tr_stems").value
    assert stems == [demo_ws.dataset_pairs("demo-ihc")[0][0]]  # no pick exists here: the default, not empty
    at = ok(by_key(at, "multiselect", "tr_stems").set_value([]).run())
    go = by_key(at, "button", "tr_go")
    assert go.disabled and "choose at least one image" in go.proto.help
    real = by_key(ok(page("pages/Mask_statistics.py").run()), "selectbox", "ms_real")
    assert real.value == "training masks of the samples' checkpoints" and real.options[2] == "fresh"  # newest first
    assert by_key(ok(page("pages/Augmentation_study.py").run()), "selectbox", "au_dataset").value == "fresh"


def test_study_name_follows_the_dataset_until_typed(demo_ws: Workspace, spawned: list[Path]) -> None:
    import shutil

    shutil.copytree(demo_ws.datasets / "demo-ihc", demo_ws.datasets / "copy")
    age(demo_ws.datasets / "copy", 10**8)  # older than the demo dataset
    at = ok(page("pages/Augmentation_study.py").run())
    assert by_key(at, "selectbox", "au_dataset").value == "demo-ihc"
    assert by_key(at, "text_input", "au_name").value == "small-data-demo-ihc"
    at = ok(by_key(at, "selectbox", "au_dataset").set_value("copy").run())
    assert by_key(at, "text_input", "au_name").value == "small-data-copy"
    at = ok(by_key(at, "text_input", "au_name").set_value("my-study").run())
    at = ok(by_key(at, "selectbox", "au_dataset").set_value("demo-ihc").run())
    assert by_key(at, "text_input", "au_name").value == "my-study"
    at = ok(by_key(at, "button", "au_go").click().run())
    spec = json.loads((spawned[0] / "spec.json").read_text())
    assert spec["args"]["name"] == "my-study" and spec["args"]["dataset"] == "demo-ihc"


def test_delete_items_with_confirmation_refused_while_a_job_uses_them(demo_ws: Workspace,
                                                                     spawned: list[Path]) -> None:
    from singanseg_core.services.demo import DEMO_SAMPLES

    at = ok(page("app.py").run())
    at = ok(by_key(at, "radio", "home_cat").set_value("samples").run())
    assert by_key(at, "selectbox", "home_pick_samples").value == DEMO_SAMPLES
    at = ok(by_key(at, "button", "home_del_samples_ask").click().run())
    assert any(DEMO_SAMPLES in w.value and "cannot be undone" in w.value for w in at.warning)
    assert (demo_ws.samples / DEMO_SAMPLES).is_dir()  # nothing deleted before the confirmation
    at = ok(by_key(at, "button", "home_del_samples_yes").click().run())
    assert not (demo_ws.samples / DEMO_SAMPLES).exists()
    assert any("Deleted sample set" in s.value for s in at.success)

    ck = demo_ws.list_checkpoints()[0]
    jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 2, "out": "later"}, title="sample later")
    at = ok(by_key(page("app.py").run(), "radio", "home_cat").set_value("checkpoints").run())
    at = ok(by_key(at, "selectbox", "home_pick_checkpoints").set_value(ck).run())
    ask = by_key(at, "button", "home_del_checkpoints_ask")
    assert ask.disabled and "sample later" in ask.proto.help
    assert (demo_ws.checkpoints / ck).is_dir()


@pytest.mark.slow
def test_job_rows_say_where_output_goes_and_tell_jobs_apart(demo_ws: Workspace, spawned: list[Path]) -> None:
    stems = [s for s, _, _ in demo_ws.dataset_pairs("demo-ihc")]
    at = page("pages/Checkpoints.py").run()
    for stem in stems[:2]:
        at = ok(by_key(at, "multiselect", "tr_stems").set_value([stem]).run())
        at = ok(by_key(at, "button", "tr_go").click().run())
    assert len(spawned) == 2
    captions = " ".join(c.value for c in at.caption)
    assert f"→ checkpoints/{stems[0]}" in captions and f"→ checkpoints/{stems[1]}" in captions
    assert captions.count("created ") >= 2
    titles = [m.value for m in at.markdown if "train 1 model(s) on demo-ihc" in m.value]
    assert len(titles) == 2 and titles[0] != titles[1]  # told apart by the checkpoint they write
    assert not any("0/0" in p.proto.text for p in at.get("progress"))  # a queued job shows no "iteration 0/0"


@pytest.mark.slow
def test_checkpoint_browse_shows_settings_table_and_scales_from_1(demo_ws: Workspace) -> None:
    at = ok(page("pages/Checkpoints.py").run())
    assert not at.json, "training settings are a readable table, not a collapsed JSON tree"
    frames = [d.value for d in at.dataframe]
    settings = next(f for f in frames if list(f.columns) == ["setting", "value"])
    assert "train.config.niter" in set(settings["setting"]) and "source.origin" in set(settings["setting"])
    scales = next(f for f in frames if "channels (nfc)" in f.columns)
    assert scales["scale"].iloc[0] == f"1 of {len(scales)}" and scales["scale"].iloc[-1] == f"{len(scales)} of {len(scales)}"


@pytest.mark.slow
def test_start_scale_caption_describes_every_chosen_checkpoint(demo_ws: Workspace, one_torch_thread) -> None:  # noqa: ANN001
    from singanseg_core import TrainConfig
    from singanseg_core.training.fit import train

    _, image, mask = demo_ws.dataset_pairs("demo-ihc")[0]
    shallow = train(image, mask, demo_ws.checkpoints / "shallow", TrainConfig.from_preset("tiny", max_size=32, niter=10),
                    name="shallow")
    deep = demo_ws.list_checkpoints()[0]
    depth = len(json.loads((demo_ws.checkpoints / deep / "config.json").read_text())["sizes"])
    assert shallow.num_scales < depth
    at = page("pages/Sample.py").run()
    at = ok(by_key(at, "multiselect", "sm_ckpts").set_value([deep, "shallow"]).run())
    slider = by_key(at, "slider", "sm_start")
    assert slider.proto.max == shallow.num_scales
    assert f"{deep}: {depth} scales" in slider.proto.help and f"shallow: {shallow.num_scales} scales" in slider.proto.help
    at = ok(slider.set_value(1).run())
    lines = {c.value.split("**")[1]: c.value for c in at.caption if c.value.startswith("**")}
    assert f"scales 2–{depth} are generated" in lines[deep]
    assert f"scales 2–{shallow.num_scales} are generated" in lines["shallow"] or shallow.num_scales == 2
    at = ok(by_key(at, "slider", "sm_start").set_value(shallow.num_scales).run())
    lines = {c.value.split("**")[1]: c.value for c in at.caption if c.value.startswith("**")}
    assert "reconstruction" in lines["shallow"] and "reconstruction" not in lines[deep]


@pytest.mark.slow
def test_projector_mode_is_remembered_and_enlarges_tiles(demo_ws: Workspace) -> None:
    def tile_weights(at: AppTest) -> set[float]:  # widths of the columns that hold a sample tile
        return {round(c.proto.weight, 3) for c in at.columns
                if any(getattr(e, "type", "") == "image" and e.proto.imgs[0].caption.startswith("#")
                       for e in c.children.values())}

    at = ok(page("app.py").run())
    at = ok(at.switch_page("pages/Sample.py").run())
    by_key(at, "number_input", "sm_n").set_value(4)
    at = ok(by_key(at.run(), "button", "sm_go").click().run())
    assert 0.25 in tile_weights(at)  # 4 image / mask / overlay tiles per row
    assert not any("stImageCaption" in m.value for m in at.markdown)
    at = ok(at.toggle(key="_projector_toggle").set_value(True).run())
    at = ok(at.switch_page("pages/Checkpoints.py").run())
    at = ok(at.switch_page("pages/Sample.py").run())
    assert at.toggle(key="_projector_toggle").value is True  # remembered across pages
    assert any("stImageCaption" in m.value for m in at.markdown)  # bigger captions
    at = ok(by_key(at, "button", "sm_go").click().run())
    weights = tile_weights(at)
    assert 0.5 in weights and 0.25 not in weights  # 2 per row


@pytest.mark.slow
def test_projector_mode_enlarges_chart_fonts_tables_and_metrics(demo_ws: Workspace) -> None:
    """Charts are read from the back of a room: every font of the figure grows with projector mode, tables become
    HTML the projector CSS enlarges, and metrics sit at most 3 to a row."""
    save_samples(demo_ws, n=4)

    def chart(projector: bool) -> tuple[dict, AppTest]:
        at = page("pages/Mask_statistics.py")
        at.session_state["projector_mode"] = projector
        at = ok(by_key(ok(at.run()), "selectbox", "ms_syn").set_value("samples/set1").run())
        return json.loads(at.get("plotly_chart")[0].proto.spec)["layout"], at

    plain, at = chart(False)
    assert at.dataframe and not at.table
    big, at = chart(True)
    assert at.table  # the summary as HTML
    assert big["font"]["size"] >= 18 and big["title"]["font"]["size"] > 20
    assert big["xaxis"]["tickfont"]["size"] >= 18 and big["yaxis"]["tickfont"]["size"] >= 18
    assert big["legend"]["font"]["size"] >= 18 and big["hoverlabel"]["font"]["size"] >= 18
    assert "font" not in plain or plain["font"].get("size", 12) <= 12
    home = page("app.py")
    home.session_state["projector_mode"] = True
    home = ok(home.run())
    rows = [c for c in home.columns if any(getattr(e, "type", "") == "metric" for e in c.children.values())]
    assert rows and all(round(c.proto.weight, 3) >= 0.333 for c in rows)  # 3 metrics to a row at most


def test_no_page_draws_a_chart_or_table_past_ui_figures() -> None:
    """One place sizes what a room reads: pages and ui helpers draw charts and tables through ``ui.figures``."""
    for path in [*sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py")), ROOT / "app.py"]:
        if path.name == "figures.py":
            continue
        text = path.read_text()
        assert "st.plotly_chart(" not in text and "st.dataframe(" not in text, path.name


def test_before_after_divider_stays_thin_when_enlarged() -> None:
    from singanseg_core.analysis.tiles import before_after

    before = np.zeros((16, 16, 3), np.uint8)
    after = np.full((16, 16, 3), 100, np.uint8)
    out = before_after(before, after, 0.5, min_side=320)
    assert out.shape == (320, 320, 3)
    white = np.where((out == 255).all(axis=2).all(axis=0))[0]
    assert len(white) == 2 and 150 <= white[0] <= 162  # a 2-px line, not a 40-px bar
    assert (out[:, :white[0]] == 100).all() and (out[:, white[-1] + 1:] == 0).all()


def test_study_results_warn_on_tiny_folds_and_show_the_spread_over_seeds(demo_ws: Workspace) -> None:
    from singanseg_core.studies import StudyConfig
    from singanseg_core.studies.results import TABLE_COLUMNS

    d = demo_ws.studies / "seeds"
    (d / "runs").mkdir(parents=True)
    cfg = StudyConfig.from_preset("small-data", "demo", demo_ws.datasets / "demo-ihc", r_values=[2], seeds=[0, 1])
    (d / "study.json").write_text(json.dumps(cfg.to_dict()))
    for train_data, seed, iou in (("real", 0, 0.40), ("real", 1, 0.30), ("synthetic", 0, 0.45), ("synthetic", 1, 0.47)):
        row = dict.fromkeys(TABLE_COLUMNS, 0)
        row.update(run_id=f"R002-{train_data}" + (f"-seed{seed}" if seed else ""), kind="small-data",
                   train_set=train_data, train_data=train_data, variant="" if train_data == "real" else "raw", R=2,
                   seed=seed, n_train=2, n_val=4, iou=iou, fscore=iou)
        (d / "runs" / row["run_id"]).mkdir()
        (d / "runs" / row["run_id"] / "result.json").write_text(json.dumps(row))
    at = ok(page("pages/Augmentation_study.py").run())
    assert any("Validation on only 4 image(s)" in w.value for w in at.warning)
    assert any("Spread over seeds" in m.value and "0.100" in m.value for m in at.markdown)
    import plotly.io as pio

    fig = pio.from_json(at.get("plotly_chart")[0].proto.spec)
    assert list(fig.layout.xaxis.tickvals) == [2]  # one R: one tick, no 1.5 / 2.5
    xs = [t.x[0] for t in fig.data]
    assert len(set(xs)) == 2 and all(t.error_y.visible for t in fig.data)  # markers side by side, with spread


@pytest.mark.slow
def test_job_details_show_items_cancelled_once_the_cancel_took_effect(demo_ws: Workspace,
                                                                      spawned: list[Path]) -> None:
    """The Details panel of a cancelled job lists its unfinished items as cancelled, not "running · about 7 min
    left" (the job record marks them when the job ends cancelled)."""
    job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [], "preset": "tiny"}, title="two")
    live = "scale 1 of 7, iteration 30/200, about 7 min left"
    jobs._write_status(job.dir, {**job.status, "state": "queued", "pid": None, "items": {
        "ck-a": {"state": "done", "progress": 1.0, "message": "finished"},
        "ck-b": {"state": "running", "progress": 0.3, "message": live}}})

    def item_lines(at: AppTest) -> list[str]:
        return [p.proto.text for p in at.get("progress") if p.proto.text.startswith("ck-")]

    at = ok(page("pages/Checkpoints.py").run())
    assert any("running" in t and "min left" in t for t in item_lines(at))
    at = ok(by_key(at, "button", f"cancel_train_{job.id}").click().run())
    lines = item_lines(at)
    assert lines and not any("running" in t or "min left" in t for t in lines), lines
    assert any(t.startswith("ck-b: cancelled") for t in lines) and any(t.startswith("ck-a: done") for t in lines)
