"""Dashboard phase 2 under ``streamlit.testing.v1.AppTest``: the teaching page, the Sample page's explorers
(start scales, histogram, undertraining flag, style preview, patch-NN), saving through the core, the training
record (finished and live) and the classroom mode.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "a-long-passphrase"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(ws: Workspace, name: str | None = None):  # noqa: ANN202
    from singanseg_core.model import SinGANSeg
    from singanseg_core.services.demo import default_checkpoint

    return SinGANSeg.from_pretrained(ws.checkpoints / (name or default_checkpoint(ws.list_checkpoints())))


def _generated(n: int = 8, explore: str = "Start scales") -> object:
    at = page("pages/Sample.py").run()
    by_key(at, "number_input", "sm_n").set_value(n)
    at = ok(by_key(at.run(), "button", "sm_go").click().run())
    return ok(by_key(at, "radio", "sm_explore").set_value(explore).run())


# ---------------------------------------------------------------------------------------------- How it works
@pytest.mark.slow
def test_how_it_works_shows_every_scale_and_the_threshold(demo_ws: Workspace) -> None:
    from singanseg_core.analysis.teaching import TRACE_CAPTIONS

    at = ok(page("pages/How_it_works.py").run())
    model = _model(demo_ws)
    assert by_key(at, "selectbox", "hw_ck").value == model.name  # services.demo.default_checkpoint
    n = model.num_scales
    record = 2 if (demo_ws.checkpoints / model.name / "progress" / "latest_sample.png").is_file() else 0
    # training pair, 5 tiles per scale, final row, and the training record's latest sample + reconstruction
    assert len(at.get("image")) == 3 + 5 * n + 4 + record
    text = " ".join(c.value for c in at.caption) + " ".join(m.value for m in at.markdown)
    for key in ("real", "noise", "prev_up", "output", "mask", "raw_mask", "scale"):
        assert TRACE_CAPTIONS[key] in text, key
    for i, (h, w) in enumerate(model.scale_sizes, start=1):
        assert f"scale {i} of {n}" in text and f"{w}x{h} px" in text
    assert "stored noise" not in " ".join(c.value for c in at.caption)
    # the true-pixel % at 0.5 is the sample's own; another threshold gives the trace's mask at it
    pct = model.sample(1, 0, seed=0).true_pixel_pct[0]
    assert at.metric[0].value == f"{pct:.1f} %"
    by_key(at, "slider", "hw_threshold").set_value(0.8)
    at = ok(at.run())
    assert at.metric[0].value == f"{model.trace(0, 0).mask_at(0.8)[1]:.1f} %"
    # a later start scale: the coarse scales reuse the stored noise, and the page says so
    by_key(at, "slider", "hw_start").set_value(2)
    at = ok(at.run())
    assert any(TRACE_CAPTIONS["stored_noise"] in c.value for c in at.caption)
    assert any("scales 1–2 follow the real image" in c.value for c in at.caption)


@pytest.mark.slow
def test_how_it_works_in_projector_mode_and_figure_download(demo_ws: Workspace) -> None:
    at = in_app("pages/How_it_works.py")
    at.session_state["projector_mode"] = True
    at = ok(at.run())
    assert any("stImageCaption" in m.value for m in at.markdown)  # the projector CSS is on
    assert by_key(at, "download_button", "hw_dl").proto.label.startswith("Download this figure")
    at = ok(by_key(at, "button", "hw_grid_go").click().run())  # every start scale, at projector size
    fig = at.session_state["hw_grid"][1]
    n = _model(demo_ws).num_scales
    assert fig.height > (n + 2) * 256 and fig.width > 3 * 256  # 3 per row, twice the normal tiles


# ---------------------------------------------------------------------------------------------- Sample page
@pytest.mark.slow
def test_sample_start_scale_comparison(demo_ws: Workspace) -> None:
    from singanseg_core.analysis.teaching import start_scale_figure

    at = by_key(_generated(4), "button", "sm_grid_go").click().run()
    ok(at)
    fig = at.session_state["sm_grid"][1]
    model = _model(demo_ws)
    expected = start_scale_figure(model.start_scale_grid(0, 4), tile=128, real=np.asarray(model.real_image()),
                                  real_mask=np.asarray(model.real_mask()), captions=False, name=model.name)
    assert np.array_equal(np.asarray(fig), np.asarray(expected))  # one row per start scale, same seed
    assert fig.height > (model.num_scales + 2) * 128


@pytest.mark.slow
def test_sample_histogram_without_saving(demo_ws: Workspace) -> None:
    before = sorted(demo_ws.list_sample_sets())
    at = _generated(8, "True-pixel histogram")
    pct = at.session_state["sm_result"]["results"][_model(demo_ws).name]["pct"]
    assert len(at.get("plotly_chart")) == 1  # the histogram (the style preview has no curves yet)
    # by default against the dataset the checkpoint was trained from
    assert by_key(at, "selectbox", "sm_hist_ref").value == "dataset demo-ihc (trained from)"
    caption = next(c.value for c in at.caption if c.value.startswith("Mean true pixels"))
    n_masks = len(demo_ws.dataset_pairs("demo-ihc"))
    assert f"these 8 samples {np.mean(pct):.1f} %" in caption and f"(n = {n_masks})" in caption
    by_key(at, "selectbox", "sm_hist_ref").set_value("training mask(s) of the checkpoint(s)")
    at = ok(at.run())
    caption = next(c.value for c in at.caption if c.value.startswith("Mean true pixels"))
    real = np.asarray(_model(demo_ws).real_mask())
    assert f"real {(real > 127).mean() * 100:.1f} % (n = 1)" in caption
    assert sorted(demo_ws.list_sample_sets()) == before  # nothing was saved


@pytest.mark.slow
def test_sample_flags_an_undertrained_model(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.model import SinGANSeg

    at = _generated(8)
    assert not any("undertrained" in w.value for w in at.warning)
    real_sample = SinGANSeg.sample

    def empty_masks(self, *args, **kwargs):  # noqa: ANN001, ANN202 - an undertrained model: masks come out empty
        s = real_sample(self, *args, **kwargs)
        s.masks[:] = 0
        return s

    monkeypatch.setattr(SinGANSeg, "sample", empty_masks)
    at = ok(by_key(at, "button", "sm_go").click().run())
    assert any("undertrained: 8 of 8 samples have empty masks — train longer" in w.value for w in at.warning)


@pytest.mark.slow
def test_sample_style_preview_with_loss_curves(demo_ws: Workspace) -> None:
    from singanseg_core.style.preview import RATIO_EXPLANATION

    at = _generated(6, "Style preview")
    assert any("No time estimate for this preview" in c.value for c in at.caption)
    at = ok(by_key(at, "button", "sm_style_go").click().run())  # the preview's defaults: 12 L-BFGS steps
    seconds = at.session_state["sm_style"][1].seconds
    estimate = next(c.value for c in ok(at.run()).caption if ":material/timer:" in c.value)
    assert "this preview (4 images, 12 steps) takes about" in estimate and "last 1 similar run" in estimate
    from singanseg_core.services.timings import duration

    assert f"about {duration(seconds)}" in estimate  # this machine's own time, measured by the preview itself
    stamp, result = at.session_state["sm_style"]
    assert len(result.images) == 4 and result.images[0].shape == (*_model(demo_ws).scale_sizes[-1], 3)
    assert [h["step"] for h in result.history] and result.history[-1]["style"] > 0
    raw = at.session_state["sm_result"]["results"][_model(demo_ws).name]["images"]
    assert np.abs(result.images[0].astype(int) - raw[0]).mean() > 0.5  # restyled
    assert any(RATIO_EXPLANATION == c.value for c in at.caption)
    assert any(c.value.startswith("4 image(s) restyled") for c in at.caption)
    assert sum("restyled" in (i.proto.imgs[0].caption if i.proto.imgs else "") for i in at.get("image")) == 4
    by_key(at, "number_input", "sm_seed").set_value(5)  # other samples: the old preview is not shown with them
    at = ok(by_key(at.run(), "button", "sm_go").click().run())
    assert not any("restyled" in (i.proto.imgs[0].caption if i.proto.imgs else "") for i in at.get("image"))


@pytest.mark.slow
def test_sample_patch_nn_needs_no_checkpoint(demo_ws: Workspace) -> None:
    import shutil

    for name in demo_ws.list_checkpoints():
        shutil.rmtree(demo_ws.checkpoints / name)
    at = ok(page("pages/Sample.py").run())
    assert any("No finished checkpoint" in i.value for i in at.info)
    by_key(at, "number_input", "sm_nn_n").set_value(2)
    at = ok(by_key(at.run(), "button", "sm_nn_go").click().run())
    first = at.session_state["sm_nn"][1]
    assert len(first) == 2 and first.masks.max() == 255
    assert any("2 patch-NN samples" in s.value for s in at.success)
    at = ok(by_key(at, "button", "sm_nn_go").click().run())
    assert np.array_equal(at.session_state["sm_nn"][1].images, first.images)  # same seed, same samples


def test_sample_save_goes_through_the_core_with_the_current_name(demo_ws: Workspace) -> None:
    at = _generated(2)
    name = by_key(at, "text_input", "sm_save_name").value
    (demo_ws.samples / name).mkdir()
    (demo_ws.samples / name / "keep.txt").write_text("someone else's")  # the name is taken
    at = ok(by_key(at, "button", "sm_save").click().run())
    saved = at.session_state["sm_saved"]
    assert saved == f"{name}-2" and (demo_ws.samples / name / "keep.txt").is_file()
    frame = pd.read_csv(demo_ws.samples / saved / "manifest.csv")
    assert len(frame) == 2 and set(frame["seed"]) == {0} and set(frame["gen_start_scale"]) == {0}
    assert not [p for p in demo_ws.samples.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_pages_never_open_images_with_raw_pil() -> None:
    for path in sorted((ROOT / "pages").glob("*.py")):
        assert not re.search(r"Image\.open\(", path.read_text()), f"{path.name}: use files.images / the model"


@pytest.mark.slow
def test_checkpoint_with_a_linked_real_png_shows_no_outside_file(demo_ws: Workspace, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    media = _record_media(monkeypatch)
    name = _model(demo_ws).name
    outside = tmp_path / "secret.png"
    Image.fromarray(np.full((64, 64, 3), 7, np.uint8)).save(outside)
    real = demo_ws.checkpoints / name / "real.png"
    real.unlink()
    real.symlink_to(outside)
    shown: dict[str, list[np.ndarray]] = {}
    for path in ("pages/Checkpoints.py", "pages/How_it_works.py"):
        at = page(path)
        if path.endswith("Checkpoints.py"):
            at.session_state["ck_pick"] = name
        shown[path] = _shown_images(ok(at.run()), media)
    assert "real image" in [caption for caption, _ in shown["pages/Checkpoints.py"]]  # the page drew it
    for path, images in shown.items():
        for caption, pixels in images:
            assert not (pixels[..., :3] == 7).all(), f"{path} shows the linked outside file as {caption!r}"
    assert np.asarray(_model(demo_ws, name).real_image()).mean() != 7  # the model's reader ignores the link


def _record_media(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """URL → bytes of every media file the pages hand to Streamlit from now on (what the browser would load)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    media: dict[str, bytes] = {}
    add = MediaFileManager.add

    def recording(self, path_or_data, *args, **kwargs):  # noqa: ANN001, ANN202
        url = add(self, path_or_data, *args, **kwargs)
        if isinstance(path_or_data, bytes):
            media[url] = path_or_data
        return url

    monkeypatch.setattr(MediaFileManager, "add", recording)
    return media


def _shown_images(at, media: dict[str, bytes]) -> list[tuple[str, np.ndarray]]:  # noqa: ANN001 - AppTest
    """(caption, pixels) of every ``st.image`` the last run drew."""
    import io

    return [(img.caption, np.asarray(Image.open(io.BytesIO(media[img.url]))))
            for element in at.get("image") for img in element.proto.imgs]


# ---------------------------------------------------------------------------------------------- training record
def _record(folder: Path, finished: bool) -> None:
    from singanseg_core.model.training_log import TrainingRecord

    cfg = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else None
    sizes = cfg["sizes"] if cfg else [[26, 26], [32, 32], [41, 41]]
    rec = TrainingRecord(folder, folder.name, sizes, [32] * len(sizes), niter=20, log_every=10)
    last = len(sizes) if finished else 2
    rng = np.random.default_rng(0)
    for k in range(last):
        for it in (10, 20):
            rec.iteration(k, it, 0.05 * it, {"d_real": 1.0, "d_fake": -1.0, "gp": 0.1, "g_adv": 0.5, "rec": 0.2},
                          fake=rng.uniform(-1, 1, (4, *sizes[k])), rec=rng.uniform(-1, 1, (4, *sizes[k])))
        if finished or k < last - 1:
            rec.scale_done(k, 1.0, fake=rng.uniform(-1, 1, (4, *sizes[k])))
    if not finished:
        rec.iteration(last - 1, 10, 0.5, {"d_real": 1.0, "d_fake": -1.0, "gp": 0.1, "g_adv": 0.5, "rec": 0.2},
                      fake=rng.uniform(-1, 1, (4, *sizes[last - 1])), rec=rng.uniform(-1, 1, (4, *sizes[last - 1])))
        rec._write(None, None)


def test_finished_checkpoint_shows_its_training_record(demo_ws: Workspace) -> None:
    model = _model(demo_ws)
    name = model.name
    _record(demo_ws.checkpoints / name, finished=True)
    at = page("pages/Checkpoints.py")
    at.session_state["ck_pick"] = name
    at = ok(at.run())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training time"] == f"{model.num_scales} s" and metrics["Scale"].startswith("all ")  # 1 s each
    assert metrics["Time per iteration"] == "50 ms"
    captions = [i.proto.imgs[0].caption for i in at.get("image") if i.proto.imgs]
    assert any(c.startswith("latest generated sample") for c in captions)


def test_training_job_is_watched_live(demo_ws: Workspace) -> None:
    from singanseg_core.files.atomic import atomic_write_json
    from singanseg_core.services import jobs

    stem = demo_ws.dataset_pairs("demo-ihc")[0][0]
    job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [stem], "names": {stem: "live-ck"},
                                         "preset": "tiny"}, title="train live", start=False)
    atomic_write_json(job.dir / "status.json", {"state": "running", "progress": 0.3, "message": "scale 3 of 3",
                                                "items": {}, "pid": os.getpid(), "pid_started": time.time(),
                                                "updated": time.time()})
    _record(demo_ws.checkpoints / "live-ck", finished=False)
    at = ok(page("pages/Checkpoints.py").run())
    assert by_key(at, "selectbox", "tr_watch_pick").value == "live-ck"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Scale"] == "scale 2 of 3" and metrics["Iteration"] == "10 / 20"
    assert metrics["Time left (ETA)"] != "—"
    captions = [i.proto.imgs[0].caption for i in at.get("image") if i.proto.imgs]
    assert any(c.startswith("latest reconstruction") for c in captions)


# ---------------------------------------------------------------------------------------------- classroom mode
WRITE_BUTTONS = {"pages/Checkpoints.py": ["up_add", "tr_go", "ck_del_ask", "ds_del_ask"],
                 "pages/Style_transfer.py": ["st_go"], "app.py": ["home_del_datasets_ask"]}


@pytest.mark.slow
def test_classroom_mode_locks_write_actions_until_the_passphrase(demo_ws: Workspace,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    monkeypatch.setenv("SINGANSEG_PASSPHRASE", PASSPHRASE)
    for path, keys in WRITE_BUTTONS.items():
        at = ok(in_app(path).run())
        for key in keys:
            b = by_key(at, "button", key)
            assert b.disabled and "is for the teacher in classroom mode" in b.proto.help, (path, key)
            assert not re.search(r"'[a-z-]+'", b.proto.help), b.proto.help  # no internal action id
        assert "Workspace: `workspace`" in " ".join(c.value for c in at.caption)  # no server path
        shown = " ".join(e.value for kind in ("caption", "markdown", "info") for e in at.get(kind))
        assert str(demo_ws.root) not in shown, path
    at = _generated(2)  # sampling and exploring stay open; saving is locked
    assert not by_key(at, "button", "sm_grid_go").disabled
    save = by_key(at, "button", "sm_save")
    assert save.disabled and "Saving samples is for the teacher in classroom mode" in save.proto.help
    assert "sample-save" not in save.proto.help
    # a wrong passphrase says so; the right one unlocks this session
    at = in_app("pages/Checkpoints.py").run()
    by_key(at, "text_input", "_classroom_pass").input("wrong-guess")
    at = _unlock_button(at).click().run()
    assert any("Wrong passphrase" in e.value for e in at.error)
    assert by_key(at, "button", "tr_go").disabled
    by_key(at, "text_input", "_classroom_pass").input(PASSPHRASE)
    at = _unlock_button(at).click().run()
    ok(at)
    assert not by_key(at, "button", "tr_go").disabled
    assert "classroom" not in by_key(at, "button", "up_add").proto.help  # now only "choose at least one image"
    assert any("unlocked in this session" in c.value for c in at.caption)


def in_app(path: str):  # noqa: ANN201 - AppTest
    """``path`` reached through ``app.py``, which draws the sidebar (classroom unlock, projector toggle)."""
    at = ok(page("app.py").run())
    return at if path == "app.py" else at.switch_page(path)


def _unlock_button(at):  # noqa: ANN001, ANN202
    return next(b for b in at.button if b.proto.label == "Unlock")


def test_classroom_mode_without_passphrase_has_no_unlock(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    at = ok(in_app("pages/Checkpoints.py").run())
    assert any("Classroom mode" in c.value for c in at.sidebar.caption)  # the sidebar is there
    assert not [t for t in at.text_input if t.key == "_classroom_pass"]
    b = by_key(at, "button", "tr_go")
    assert b.disabled and "Training is for the teacher in classroom mode" in b.proto.help


def test_open_mode_allows_everything(demo_ws: Workspace) -> None:
    at = ok(in_app("pages/Checkpoints.py").run())
    assert any("Workspace: `" in c.value for c in at.sidebar.caption)  # the sidebar is there
    assert not by_key(at, "button", "tr_go").disabled
    assert not [t for t in at.text_input if t.key == "_classroom_pass"]


def test_uploads_per_session_are_capped(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.dashboard.app_helpers import png

    monkeypatch.setenv("SINGANSEG_MAX_UPLOADS", "2")
    mask = np.zeros((20, 24), np.uint8)
    mask[5:15, 5:15] = 255
    at = page("pages/Checkpoints.py").run()
    for i in range(2):
        by_key(at, "file_uploader", "up_images").upload(f"x{i}.png", png(np.full((20, 24, 3), 90 + i, np.uint8)),
                                                        "image/png")
        by_key(at, "file_uploader", "up_masks").upload(f"x{i}.png", png(mask), "image/png")
        at = at.run()
        if i == 0:
            at = ok(by_key(at, "button", "up_add").click().run())
            assert any("Added 1 pair" in s.value for s in at.success)
    add = by_key(at, "button", "up_add")  # 2 of 2 files used: the next pair is refused, and the button says why
    assert add.disabled and "may upload 0 more file(s)" in add.proto.help
    assert not (demo_ws.datasets / "my-data" / "images" / "x1.png").exists()


def test_browse_survives_a_real_png_of_another_size(demo_ws: Workspace) -> None:
    name = _model(demo_ws).name
    Image.fromarray(np.zeros((10, 30), np.uint8)).save(demo_ws.checkpoints / name / "real_mask.png")
    at = page("pages/Checkpoints.py")
    at.session_state["ck_pick"] = name
    at = ok(at.run())
    assert len(at.get("image")) >= 3  # image, mask (brought to the image's size) and overlay


def test_classroom_mode_locks_job_controls(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.files.atomic import atomic_write_json
    from singanseg_core.services import jobs

    stem = demo_ws.dataset_pairs("demo-ihc")[0][0]
    job = jobs.submit(demo_ws, "train", {"dataset": "demo-ihc", "stems": [stem], "preset": "tiny"},
                      title="train done", start=False)
    atomic_write_json(job.dir / "status.json", {"state": "failed", "progress": 0.5, "message": "boom", "items": {},
                                                "updated": time.time()})
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    at = ok(page("pages/Checkpoints.py").run())
    for name in ("delete", "resume"):
        b = by_key(at, "button", f"{name}_train_{job.id}")
        words = {"delete": "Deleting", "resume": "Resuming jobs"}[name]
        assert b.disabled and b.proto.help.startswith(f"Disabled: {words} is for the teacher in classroom mode")
    monkeypatch.setenv("SINGANSEG_MODE", "open")
    at = ok(page("pages/Checkpoints.py").run())
    assert not by_key(at, "button", f"delete_train_{job.id}").disabled


def test_upload_click_is_checked_on_the_server_and_duplicates_are_reported(demo_ws: Workspace,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The cap is checked again when the click arrives (the button was drawn before this session's count grew);
    a re-upload of the same pixels is named as skipped, not silently dropped."""
    import ui.controls
    from tests.dashboard.app_helpers import png

    img = np.zeros((20, 24, 3), np.uint8)
    img[4:12, 4:12] = 200
    mask = np.zeros((20, 24), np.uint8)
    mask[4:12, 4:12] = 255
    at = page("pages/Checkpoints.py").run()
    for _ in range(2):
        by_key(at, "file_uploader", "up_images").upload("dup.png", png(img), "image/png")
        by_key(at, "file_uploader", "up_masks").upload("dup.png", png(mask), "image/png")
        at = ok(by_key(at.run(), "button", "up_add").click().run())
    assert any("Added 0 pair" in s.value for s in at.success)
    assert at.warning and "dup.png" in at.warning[0].value

    drawn = ui.controls.button  # a stale button: drawn enabled whatever its reason
    monkeypatch.setattr(ui.controls, "button", lambda *a, why_not=None, action=None, **k: drawn(*a, **k))
    monkeypatch.setenv("SINGANSEG_MAX_UPLOADS", "1")
    by_key(at, "file_uploader", "up_images").upload("other.png", png(255 - img), "image/png")
    by_key(at, "file_uploader", "up_masks").upload("other.png", png(mask), "image/png")
    at = by_key(at.run(), "button", "up_add").click().run()
    assert not at.exception and at.error and "upload refused" in at.error[0].value
    assert not (demo_ws.datasets / "my-data" / "images" / "other.png").exists()


# ------------------------------------------------------------------------- How it works: a guided sample's pyramid
def test_how_it_works_shows_a_guided_pyramid_where_the_guide_enters(demo_ws: Workspace) -> None:
    from singanseg_core.model.guided import default_inject_scale, guided_sample, guided_trace
    from singanseg_core.model.layout import apply_transform
    from ui.guided_lesson import LAYOUTS

    at = ok(page("pages/How_it_works.py").run())
    images = len(at.get("image"))
    at = ok(by_key(at, "toggle", "hw_gd_on").set_value(True).run())
    model = _model(demo_ws, by_key(at, "selectbox", "hw_ck").value)
    k = default_inject_scale(model.num_scales)
    assert by_key(at, "slider", "hw_gd_k").value == k + 1       # 1-based on the page
    assert len(at.get("image")) == images + 1                   # the guided figure
    caption = next(c.value for c in at.caption if "stands in for the output" in c.value)
    assert f"scale {k} of {model.num_scales}" in caption
    layout = by_key(at, "selectbox", "hw_gd_layout").value
    mask = apply_transform(np.asarray(model.real_mask()), LAYOUTS[layout])
    iou = float(guided_sample(model, mask, k, n=1, seed=0).iou[0])
    assert f"IoU {iou:.2f}" in caption
    # the figure is the trace of that guided sample: its guide row marks the entry scale
    trace = guided_trace(model, mask, k, 0)
    assert trace.inject_scale == k and trace.scales[0].scale == k
    # a coarser entry is another figure with another caption
    at = ok(by_key(at, "slider", "hw_gd_k").set_value(k).run())
    assert any(f"output of scale {k - 1} of" in c.value for c in at.caption)
