"""The core names every output folder; the pages send only what the person chose (under AppTest).

Checkpoints → Train sends the "Train into new checkpoint folders" choice as ``fresh`` and the image stems, never
folder names; Style transfer sends the typed folder name; Augmentation study continues a study of the same name
when its settings match and refuses other settings with one line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page, save_samples

CHECKPOINTS, STYLE, STUDY = "pages/Checkpoints.py", "pages/Style_transfer.py", "pages/Augmentation_study.py"


@pytest.fixture
def reserved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names the core was asked to reserve (``Workspace.reserve_dir``), as asked."""
    asked: list[str] = []
    real = Workspace.reserve_dir

    def spy(self: Workspace, parent: Path, name: str) -> Path:
        asked.append(name)
        return real(self, parent, name)

    monkeypatch.setattr(Workspace, "reserve_dir", spy)
    return asked


def _spec(job_dir: Path) -> dict:
    return json.loads((job_dir / "spec.json").read_text())


def _train_existing(at, stem: str, fresh: bool):  # noqa: ANN001, ANN202 - AppTest
    at = ok(by_key(at, "multiselect", "tr_stems").set_value([stem]).run())
    box = by_key(at, "checkbox", "tr_fresh")
    assert box.value is True and stem in box.proto.label  # offered because checkpoints/<stem> exists
    return ok(by_key(box.set_value(fresh).run(), "button", "tr_go").click().run())


def test_unticking_new_folders_trains_into_the_existing_checkpoint(demo_ws: Workspace, spawned: list[Path],
                                                                  reserved: list[str]) -> None:
    stem = "ihc_r128_c384"  # a demo checkpoint of that name exists
    assert (demo_ws.checkpoints / stem / "config.json").is_file()
    _train_existing(page(CHECKPOINTS).run(), stem, fresh=False)
    args = _spec(spawned[0])["args"]
    assert args["fresh"] is False and args["stems"] == [stem]
    assert args.get("names", {}).get(stem, stem) == stem  # the existing folder: finished skipped, partial resumed
    assert reserved == [] and not (demo_ws.checkpoints / f"{stem}-2").exists()


@pytest.mark.slow
def test_ticking_new_folders_lets_the_core_reserve_a_suffixed_folder(demo_ws: Workspace, spawned: list[Path],
                                                                    reserved: list[str]) -> None:
    stem = "ihc_r128_c384"
    _train_existing(page(CHECKPOINTS).run(), stem, fresh=True)
    args = _spec(spawned[0])["args"]
    assert reserved == [stem]  # the page sent the stem; the core picked the free name
    assert args["names"] == {stem: f"{stem}-2"} and (demo_ws.checkpoints / f"{stem}-2").is_dir()
    assert (demo_ws.checkpoints / stem / "config.json").is_file()  # the existing checkpoint is untouched


def test_style_transfer_sends_the_typed_name_and_the_core_suffixes_it(demo_ws: Workspace, spawned: list[Path],
                                                                     reserved: list[str]) -> None:
    save_samples(demo_ws)
    (demo_ws.style / "mine").mkdir(parents=True)
    (demo_ws.style / "mine" / "keep.txt").write_text("an earlier result")
    at = page(STYLE).run()
    by_key(at, "text_input", "st_out").input("mine")
    by_key(at, "number_input", "st_steps").set_value(2)
    ok(by_key(at.run(), "button", "st_go").click().run())
    assert reserved == ["mine"]
    assert _spec(spawned[0])["args"]["out"] == "mine-2" and (demo_ws.style / "mine" / "keep.txt").is_file()


def _launch_study(at, epochs: int | None = None):  # noqa: ANN001, ANN202 - AppTest
    if epochs is not None:
        by_key(at, "number_input", "au_epochs_small-data_demo_demo-ihc").set_value(epochs)
        at = at.run()
    by_key(at, "text_input", "au_r_small-data_demo_demo-ihc").set_value("1, 2")
    return by_key(at.run(), "button", "au_go").click().run()


def test_reusing_a_study_name_continues_it_when_the_settings_match(demo_ws: Workspace, spawned: list[Path]) -> None:
    from singanseg_core.studies import StudyConfig

    help_text = by_key(ok(page(STUDY).run()), "text_input", "au_name").proto.help
    assert "continues that study" in help_text and "other settings" in help_text
    ok(_launch_study(page(STUDY).run()))
    first = _spec(spawned[0])["args"]
    name = first["name"]
    shutil.rmtree(spawned.pop())  # the first job is gone; its study folder stays, with finished work in it
    cfg = StudyConfig.from_preset(first["kind"], first["preset"], demo_ws.datasets / first["dataset"],
                                  **first["overrides"])
    (demo_ws.studies / name / "study.json").write_text(json.dumps(cfg.to_dict()))

    ok(_launch_study(page(STUDY).run()))
    assert _spec(spawned[0])["args"]["name"] == name  # the same folder: finished runs are skipped
    assert not (demo_ws.studies / f"{name}-2").exists()


def test_reusing_a_study_name_with_other_settings_is_refused_in_one_line(demo_ws: Workspace,
                                                                        spawned: list[Path]) -> None:
    from singanseg_core.studies import StudyConfig

    ok(_launch_study(page(STUDY).run()))
    first = _spec(spawned[0])["args"]
    shutil.rmtree(spawned.pop())
    cfg = StudyConfig.from_preset(first["kind"], first["preset"], demo_ws.datasets / first["dataset"],
                                  **first["overrides"])
    (demo_ws.studies / first["name"] / "study.json").write_text(json.dumps(cfg.to_dict()))

    at = _launch_study(page(STUDY).run(), epochs=7)
    assert spawned == [] and not (demo_ws.studies / f"{first['name']}-2").exists()
    assert len(at.error) == 1 and first["name"] in at.error[0].value and "other settings" in at.error[0].value


def test_a_study_name_a_queued_job_writes_is_refused(demo_ws: Workspace, spawned: list[Path]) -> None:
    ok(_launch_study(page(STUDY).run()))
    name = _spec(spawned[0])["args"]["name"]
    at = _launch_study(page(STUDY).run())
    assert len(spawned) == 1 and not (demo_ws.studies / f"{name}-2").exists()
    assert len(at.error) == 1 and name in at.error[0].value


def test_the_train_form_sends_a_warm_start_by_name_and_its_budget_follows(demo_ws: Workspace,
                                                                          spawned: list[Path]) -> None:
    """Checkpoints → Train → *Warm start from*: the iterations per scale follow the choice (1/5 of the preset's
    until the person types their own), and the job gets the checkpoint's name, never a path."""
    from singanseg_core.training.config import PRESETS
    from singanseg_core.training.prior import warm_niter

    at = ok(by_key(page(CHECKPOINTS).run(), "selectbox", "tr_preset").set_value("quick").run())
    preset = "quick"   # the demo checkpoints' widths (nfc 32, then 64): live's single width is another kind
    assert by_key(at, "selectbox", "tr_prior").value.startswith("none")
    iters = [w for w in at.number_input if w.label == "Iterations per scale"][0]
    assert iters.value == PRESETS[preset].niter
    at = ok(by_key(at, "selectbox", "tr_prior").set_value("ihc_r128_c384").run())
    iters = [w for w in at.number_input if w.label == "Iterations per scale"][0]
    assert iters.value == warm_niter(PRESETS[preset].niter) < PRESETS[preset].niter
    at = ok(by_key(at, "button", "tr_go").click().run())
    args = _spec(spawned[0])["args"]
    assert args["prior"] == "ihc_r128_c384" and args["overrides"]["niter"] == warm_niter(PRESETS[preset].niter)
    assert "init_from" not in args["overrides"]
    # a checkpoint of another kind is refused at the click, in one line naming it
    at = by_key(by_key(at, "selectbox", "tr_preset").set_value("live").run(), "button", "tr_go").click().run()
    assert any("checkpoints/ihc_r128_c384 is of another kind" in e.value for e in at.error)
    assert len(spawned) == 1
