"""The teaching room with the person's own model (under AppTest): the one current checkpoint shared by Sample
and How it works, an empty seed on How it works, deep links and unknown page paths, the glossary, Mask statistics
against the checkpoints' own training masks and the augmentation study's defaults."""

from __future__ import annotations

import shutil

import pytest

from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page
from ui.page_list import page_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def own_checkpoint(ws: Workspace, name: str = "my_polyp", source: str = "ihc_r128_c384") -> str:
    """A checkpoint of the person's own: a copy of a demo one, written now (as training would)."""
    shutil.copytree(ws.checkpoints / source, ws.checkpoints / name, copy_function=shutil.copy)
    return name


def through_app(path: str):  # noqa: ANN201 - AppTest
    at = ok(page("app.py").run())
    return ok(at.switch_page(path).run())


# ---------------------------------------------------------------------------------------------- current checkpoint
def test_teaching_pages_open_on_the_newest_trained_checkpoint_and_share_the_choice(demo_ws: Workspace) -> None:
    mine = own_checkpoint(demo_ws)
    at = through_app(page_path("Sample"))
    assert by_key(at, "multiselect", "sm_ckpts").value == [mine]
    at = ok(at.switch_page(page_path("How it works")).run())
    assert by_key(at, "selectbox", "hw_ck").value == mine
    # a choice on one page is the other's default, and survives page changes
    at = ok(by_key(at, "selectbox", "hw_ck").set_value("ihc_r256_c256").run())
    at = ok(at.switch_page(page_path("Sample")).run())
    assert by_key(at, "multiselect", "sm_ckpts").value == ["ihc_r256_c256"]
    at = ok(at.switch_page(page_path("Home")).run())
    at = ok(at.switch_page(page_path("How it works")).run())
    assert by_key(at, "selectbox", "hw_ck").value == "ihc_r256_c256"
    # a model trained after that choice becomes the current one
    newer = own_checkpoint(demo_ws, "my_newer_polyp", "ihc_r256_c256")
    at = ok(at.switch_page(page_path("Sample")).run())
    assert by_key(at, "multiselect", "sm_ckpts").value == [newer]


def test_without_a_checkpoint_of_their_own_the_pages_open_on_the_demo(demo_ws: Workspace) -> None:
    from singanseg_core.services.demo import SHOWCASE_CHECKPOINT

    at = through_app(page_path("How it works"))
    assert by_key(at, "selectbox", "hw_ck").value == SHOWCASE_CHECKPOINT
