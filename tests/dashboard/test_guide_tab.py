"""The Sample page's Guide tab (``ui.guide_tab``): pick a real mask, generate, see the agreement; bad inputs get
one line; a locked classroom visitor cannot save; the default set name follows the shown samples."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from singanseg_core.errors import InputError
from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page, png
from ui.guide_tab import MAX_CANVAS_BYTES, canvas_mask
from ui.labels import SOURCE_LABELS


def generated(n: int = 2):  # noqa: ANN201 - AppTest
    """The Sample page after generating ``n`` guided samples from the first real mask of the demo dataset."""
    at = page("pages/Sample.py").run()
    assert by_key(at, "radio", "gd_src").value.startswith("A real mask")
    by_key(at, "number_input", "gd_n").set_value(n)
    return by_key(at.run(), "button", "gd_go").click().run()


def test_pick_a_real_mask_generate_and_see_the_agreement(demo_ws: Workspace, one_torch_thread) -> None:  # noqa: ANN001
    at = ok(generated(3))
    result = at.session_state["gd_result"]
    assert len(result["samples"]) == 3
    metric = next(m for m in at.metric if m.label.startswith("Agreement"))
    assert float(metric.value) == pytest.approx(result["samples"].iou.mean(), abs=0.006)
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert "requested mask" in captions
    assert [c for c in captions if ": IoU " in c] == [f"#{i}: IoU {v:.2f}" for i, v in
                                                      enumerate(result["samples"].iou)]
    name = by_key(at, "text_input", "gd_name").value
    assert name.startswith(f"{result['checkpoint']}-guided-mask-") and name.endswith(f"-k{result['inject'] + 1}-seed0")
    at = ok(by_key(at, "button", "gd_save").click().run())
    saved = demo_ws.samples / name
    frame = pd.read_csv(saved / "manifest.csv")
    assert len(frame) == 3 and frame["guide"].iloc[0].startswith("mask:")
    assert np.allclose(frame["guide_iou"], result["samples"].iou, atol=1e-4)


def test_moving_the_mask_changes_the_request_and_the_name_follows(demo_ws: Workspace, one_torch_thread) -> None:  # noqa: ANN001
    at = ok(generated(1))
    first = at.session_state["gd_result"]["samples"].requested_mask
    by_key(at, "checkbox", "gd_fh").check()
    at = ok(by_key(at.run(), "button", "gd_go").click().run())
    moved = at.session_state["gd_result"]["samples"].requested_mask
    assert (first != moved).mean() > 0.05  # the request was mirrored
    assert "-moved-" in by_key(at, "text_input", "gd_name").value
    by_key(at, "text_input", "gd_name").input("my-own").run()
    by_key(at, "number_input", "gd_seed").set_value(5)
    at = ok(by_key(at.run(), "button", "gd_go").click().run())
    assert by_key(at, "text_input", "gd_name").value == "my-own"


def test_a_broken_mask_file_is_one_line_naming_it(demo_ws: Workspace) -> None:
    ds = demo_ws.list_datasets()[0]
    stem, _, mask = demo_ws.dataset_pairs(ds)[0]
    mask.write_bytes(b"not a png at all")
    at = page("pages/Sample.py").run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and mask.name in errors[0] and "\n" not in errors[0], errors
    assert not at.exception


def test_an_all_white_mask_is_refused_in_one_line(demo_ws: Workspace) -> None:
    ds = demo_ws.list_datasets()[0]
    _, _, mask = demo_ws.dataset_pairs(ds)[0]
    size = Image.open(mask).size
    mask.write_bytes(png(np.full(size[::-1], 255, np.uint8)))
    at = page("pages/Sample.py").run()
    at = by_key(at, "button", "gd_go").click().run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "all white" in errors[0], errors
    assert "gd_result" not in at.session_state or at.session_state["gd_result"] is None


def test_a_locked_classroom_visitor_cannot_save(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                               one_torch_thread) -> None:  # noqa: ANN001
    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    at = ok(generated(1))  # generating stays open to visitors
    save = by_key(at, "button", "gd_save")
    assert save.disabled and "classroom mode" in save.proto.help
    assert any("classroom mode" in c.value for c in at.caption)  # said beside the button too


def test_nothing_drawn_disables_generate_and_says_why(demo_ws: Workspace) -> None:
    at = page("pages/Sample.py").run()
    at = by_key(at, "radio", "gd_src").set_value("Draw it").run()
    ok(at)
    go = by_key(at, "button", "gd_go")
    assert go.disabled and "draw the object" in go.proto.help


def rgba_png(alpha: np.ndarray) -> bytes:
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, alpha
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def test_the_drawing_from_the_browser_is_read_bounded() -> None:
    alpha = np.zeros((40, 50), np.uint8)
    alpha[10:20, 5:25] = 255
    mask = canvas_mask(rgba_png(alpha))
    assert mask.shape == (40, 50) and mask.sum() == 200
    assert canvas_mask(rgba_png(np.zeros((8, 8), np.uint8))) is None and canvas_mask(None) is None
    with pytest.raises(InputError, match="the drawing"):
        canvas_mask(b"\x89PNG" + b"\0" * (MAX_CANVAS_BYTES + 1))
    with pytest.raises(InputError, match="the drawing"):
        canvas_mask(rgba_png(np.zeros((1100, 1100), np.uint8)))  # more pixels than any canvas sends
    with pytest.raises(InputError, match="the drawing"):
        canvas_mask(b"<svg>not a png</svg>")


def test_the_augmentation_study_offers_the_guided_source(demo_ws: Workspace, spawned) -> None:  # noqa: ANN001
    import json

    from singanseg_core.studies.config import SYNTHETIC_SOURCES

    at = ok(page("pages/Augmentation_study.py").run())
    radio = by_key(at, "radio", "au_source_small-data_demo_demo-ihc")
    assert radio.value == "singan" and set(radio.options) == {SOURCE_LABELS[s] for s in SYNTHETIC_SOURCES}
    by_key(at, "text_input", "au_r_small-data_demo_demo-ihc").set_value("1, 2")
    radio.set_value("guided")
    at = ok(by_key(at.run(), "button", "au_go").click().run())
    spec = json.loads((spawned[0] / "spec.json").read_text())
    assert spec["args"]["overrides"]["synthetic_source"] == "guided"
