"""The legacy importer reads nothing above the folder it was given and follows no link: a ``real_images/``
planted in the workspace's parent folder, or a linked picture, never becomes a checkpoint's ``real.png``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from singanseg_core.legacy.importer import find_legacy_models


def _model(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "Gs.pth").write_bytes(b"not read by the discovery")


def _picture(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return path


def test_real_images_above_the_source_or_behind_links_are_not_read(tmp_path: Path) -> None:
    outside = _picture(tmp_path / "real_images" / "above.png")  # the workspace's parent folder
    src = tmp_path / "ws" / "legacy" / "set"
    for name in ("above", "linked", "inside"):
        _model(src / name)
    _picture(tmp_path / "secret.png")
    (src / "real_images").mkdir(parents=True)
    (src / "real_images" / "linked.png").symlink_to(tmp_path / "secret.png")
    inside = _picture(src / "real_images" / "inside.png")
    found = {ref.name: ref.image for ref in find_legacy_models(src)}
    assert found == {"above": None, "linked": None, "inside": inside.resolve()}
    assert outside.is_file()  # it was there to be found


def test_a_linked_real_images_folder_is_not_followed(tmp_path: Path) -> None:
    _picture(tmp_path / "elsewhere" / "m.png")
    src = tmp_path / "set"
    _model(src / "m")
    (src / "real_images").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert [ref.image for ref in find_legacy_models(src)] == [None]
