"""One bad checkpoint never takes a page down: Home, Checkpoints, Sample and How it works list the other
checkpoints, mark each unreadable one (name + why, no server path) and keep working."""

from __future__ import annotations

import json
import shutil

import pytest

from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BAD = {"huge_int": "an integer of 5000 digits", "truncated": "Expecting", "too_deep": "nested deeper than"}


def plant_bad_checkpoints(ws: Workspace) -> list[str]:
    """Copies of a good checkpoint whose ``config.json`` holds a 5000-digit integer, is cut in half, or nests
    5000 levels deep; returns the good checkpoints' names."""
    good = ws.list_checkpoints(finished_only=True)
    text = (ws.checkpoints / good[0] / "config.json").read_text()
    key = next(k for k, v in json.loads(text).items() if isinstance(v, int) and not isinstance(v, bool))
    spoiled = {"huge_int": json.dumps({**json.loads(text), key: 0}).replace(f'"{key}": 0', f'"{key}": ' + "9" * 5000),
               "truncated": text[: len(text) // 2], "too_deep": "[" * 5000 + "]" * 5000}
    for name, body in spoiled.items():
        shutil.copytree(ws.checkpoints / good[0], ws.checkpoints / name)
        (ws.checkpoints / name / "config.json").write_text(body)
    return good


def _marked(at, ws: Workspace) -> str:  # noqa: ANN001
    """The page's warning about unreadable checkpoints; it names each bad one and why, and no server path."""
    (note,) = [w.value for w in at.warning if "cannot be read" in w.value]
    for name, why in BAD.items():
        assert f"**{name}**" in note and why in note, (name, note)
    assert str(ws.root) not in note and "checkpoints/huge_int/config.json" in note
    return note


@pytest.mark.slow
def test_every_page_lists_the_good_checkpoints_and_marks_the_bad_ones(demo_ws: Workspace) -> None:
    good = plant_bad_checkpoints(demo_ws)
    at = ok(page("app.py").run())  # Home
    _marked(at, demo_ws)
    assert {m.label: m.value for m in at.metric}["Checkpoints"] == str(len(good))

    at = ok(page("pages/Checkpoints.py").run())
    table = at.dataframe[0].value.set_index("checkpoint")
    for name, why in BAD.items():
        assert table.loc[name, "state"].startswith("unreadable:") and why in table.loc[name, "state"]
        assert table.loc[name, "note"].startswith(f"checkpoints/{name}/config.json: unreadable")
    assert str(demo_ws.root) not in " ".join(table["note"])
    assert by_key(at, "selectbox", "ck_pick").options == [n for n in table.index if n in good]

    at = ok(page("pages/How_it_works.py").run())
    _marked(at, demo_ws)
    assert sorted(by_key(at, "selectbox", "hw_ck").options) == good and at.get("image")

    at = ok(page("pages/Sample.py").run())
    _marked(at, demo_ws)
    assert sorted(by_key(at, "multiselect", "sm_ckpts").options) == good
    by_key(at, "number_input", "sm_n").set_value(2)
    at = ok(by_key(at.run(), "button", "sm_go").click().run())  # and it still samples
    assert any("2 samples in" in s.value for s in at.success)
