"""Dataset pairs whose image or mask is a symbolic link are never read (the patch-NN panel lists
``Workspace.dataset_pairs``): a link could point at any file of the server."""

from __future__ import annotations

import shutil
from pathlib import Path

from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page


def test_linked_images_are_left_out_of_a_dataset_and_the_patch_nn_panel(demo_ws: Workspace, tmp_path: Path) -> None:
    dataset = demo_ws.list_datasets()[0]
    stem, image, mask = demo_ws.dataset_pairs(dataset)[0]
    secret = tmp_path / "secret.png"
    shutil.copyfile(image, secret)
    linked = image.parent / f"linked{image.suffix}"
    linked.symlink_to(secret)
    shutil.copyfile(mask, mask.parent / f"linked{mask.suffix}")
    stems = [s for s, _, _ in demo_ws.dataset_pairs(dataset)]
    assert "linked" not in stems and stem in stems
    at = ok(page("pages/Sample.py").run())
    assert "linked" not in by_key(at, "selectbox", "sm_nn_pair").options
