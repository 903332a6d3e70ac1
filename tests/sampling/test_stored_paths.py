"""Manifests store the checkpoint relative to their own folder (never the server's absolute path), the zip a
download carries holds none, and style transfer still finds the checkpoint's real image (old manifests with
absolute paths too)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from singanseg_core.model import SinGANSeg
from singanseg_core.sampling.writer import write_sample_set
from singanseg_core.sampling.zips import zip_sample_folder
from singanseg_core.services.workspace import Workspace
from singanseg_core.style.folder import _style_image_for


def test_manifest_stores_the_checkpoint_relative_to_the_set(demo_ws: Workspace) -> None:
    name = demo_ws.list_checkpoints(finished_only=True)[0]
    model = SinGANSeg.from_pretrained(demo_ws.checkpoints / name)
    out = demo_ws.samples / "relative"
    write_sample_set([model], out, 2, seed=0)
    frame = pd.read_csv(out / "manifest.csv")
    assert set(frame["checkpoint_path"]) == {f"../../checkpoints/{name}"}
    row = frame.iloc[0].astype(str).to_dict()
    assert _style_image_for(row, None, out / "manifest.csv", 2).resolve() == (model.path / "real.png").resolve()
    with zipfile.ZipFile(io.BytesIO(zip_sample_folder(out))) as z:
        assert not any(str(demo_ws.root).encode() in z.read(n) for n in z.namelist())
    old = dict(row, checkpoint_path=str(model.path))  # a manifest written before: absolute, still read
    assert _style_image_for(old, None, out / "manifest.csv", 2) == Path(model.path) / "real.png"
