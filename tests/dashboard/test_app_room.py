"""The teaching room with the person's own model (under AppTest): the one current checkpoint shared by Sample
and How it works, an empty seed on How it works, deep links and unknown page paths, the glossary, Mask statistics
against the checkpoints' own training masks and the augmentation study's defaults."""

from __future__ import annotations

import shutil

import pytest

from singanseg_core.services.workspace import Workspace
from tests.dashboard.app_helpers import by_key, ok, page, save_samples
from ui.page_list import page_path
from ui.state import CURRENT_CHECKPOINT_KEY

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


# ---------------------------------------------------------------------------------------------- an empty seed
def empty_at_seed_0(ws: Workspace, name: str = "undertrained") -> str:
    """A checkpoint whose coarsest scale pushes the mask down: seed 0 draws an empty mask, seed 1 an object."""
    import torch

    from singanseg_core.model import SinGANSeg

    model = SinGANSeg.from_pretrained(ws.checkpoints / "ihc_r128_c384")
    with torch.no_grad():
        model.generators[0].tail[0].bias[3] -= 2.0
    model.save_pretrained(ws.checkpoints / name)
    assert model.sample(1, 0, seed=0).true_pixel_pct[0] <= 0.5 < model.sample(1, 0, seed=1).true_pixel_pct[0]
    return name


def test_how_it_works_flags_an_empty_seed_and_offers_the_next_with_an_object(demo_ws: Workspace) -> None:
    from singanseg_core.analysis.quality import EMPTY_SEED_WHY

    name = empty_at_seed_0(demo_ws)
    at = through_app(page_path("How it works"))
    assert by_key(at, "selectbox", "hw_ck").value == name
    assert any("Seed 0 draws no object" in w.value and EMPTY_SEED_WHY in w.value for w in at.warning)
    at = ok(by_key(at, "button", "hw_seed_next").click().run())
    assert by_key(at, "number_input", "hw_seed").value == 1
    assert not any("draws no object" in w.value for w in at.warning)
    assert float(at.metric[0].value.removesuffix(" %")) > 0.5


def test_next_seed_with_object_is_bounded() -> None:
    from singanseg_core.analysis.quality import next_seed_with_object

    class Empty:  # a model that never draws an object: counts its draws
        draws = 0

        def sample(self, n, k, seed):  # noqa: ANN001, ANN202
            import numpy as np

            Empty.draws += 1
            return type("S", (), {"true_pixel_pct": np.zeros(n)})()

    assert next_seed_with_object(Empty(), 5, tries=7) is None and Empty.draws == 7


# ---------------------------------------------------------------------------------------------- deep links
@pytest.mark.parametrize("path, prefix", [(page_path("Sample"), "sm"), (page_path("How it works"), "hw")])
def test_a_deep_link_opens_the_page_with_its_settings(demo_ws: Workspace, path: str, prefix: str) -> None:
    at = page("app.py")
    at.query_params.update({"checkpoint": "ihc_r256_c256", "seed": "7", "start": "2"})
    at = ok(ok(at.run()).switch_page(path).run())
    picked = by_key(at, "multiselect" if prefix == "sm" else "selectbox", f"{prefix}_ck" + ("pts" if prefix == "sm"
                                                                                            else ""))
    assert picked.value in (["ihc_r256_c256"], "ihc_r256_c256")
    assert by_key(at, "number_input", f"{prefix}_seed").value == 7
    assert by_key(at, "slider", f"{prefix}_start").value == 2
    # later changes are the person's own: the link is not applied again
    at = ok(by_key(at, "number_input", f"{prefix}_seed").set_value(3).run())
    assert by_key(at, "number_input", f"{prefix}_seed").value == 3


@pytest.mark.parametrize("query, says", [
    ({"checkpoint": "no_such_model"}, "does not have"),
    ({"seed": "-1"}, "seed must be a whole number"),
    ({"seed": "9" * 5000}, "longer than 100 characters"),
    ({"start": "99"}, "start scale (for ihc_gland_128px) must be an integer in 0..8"),
    ({"seed": "1e3"}, "seed must be a whole number"),
])
def test_a_bad_deep_link_says_so_in_one_line_and_keeps_the_defaults(demo_ws: Workspace, query: dict,
                                                                     says: str) -> None:
    at = page("app.py")
    at.query_params.update(query)
    at = ok(ok(at.run()).switch_page(page_path("How it works")).run())
    assert [w.value for w in at.warning if says in w.value], [w.value for w in at.warning]
    assert by_key(at, "selectbox", "hw_ck").value == "ihc_gland_128px"
    assert by_key(at, "number_input", "hw_seed").value == 0 and by_key(at, "slider", "hw_start").value == 0


# ---------------------------------------------------------------------------------------------- glossary
def _shown_text(at) -> str:  # noqa: ANN001 - AppTest
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "success", "title", "subheader")
             for e in getattr(at, kind) if isinstance(getattr(e, "value", None), str)]
    parts += [getattr(w, "label", "") or "" for kind in ("slider", "number_input", "selectbox", "multiselect",
                                                        "radio", "metric", "button", "text_input")
              for w in getattr(at, kind)]
    return " ".join(parts)


@pytest.mark.slow
def test_every_page_that_shows_a_term_explains_it(demo_ws: Workspace) -> None:
    from ui.glossary import GLOSSARY, terms_in
    from ui.page_list import PAGES

    save_samples(demo_ws, "set1", n=3)
    at = ok(page("app.py").run())
    seen: set[str] = set()
    for entry in PAGES:
        at = ok(at.switch_page(entry.path).run())
        main = _shown_text(at.main)
        sidebar = " ".join(m.value for m in at.sidebar.markdown)
        for term in terms_in(main):
            seen.add(term)
            assert f"**{term}** — {GLOSSARY[term]}" in sidebar, (entry.label, term)
    assert {"Start scale", "True-pixel %", "Wasserstein-1", "KS"} <= seen  # the check looked at real pages


# ---------------------------------------------------------------------------------------------- mask statistics
def test_mask_statistics_compares_samples_with_their_checkpoints_training_masks(demo_ws: Workspace) -> None:
    from singanseg_core.analysis.stats import compute_mask_stats, read_mask_stats, true_pixel_pct

    folder = save_samples(demo_ws, "set1", n=4)
    ck = demo_ws.list_checkpoints()[0]
    at = through_app(page_path("Mask statistics"))
    assert by_key(at, "selectbox", "ms_real").value == "training masks of the samples' checkpoints"
    truth = true_pixel_pct(demo_ws.checkpoints / ck / "real_mask.png")
    at = ok(by_key(at, "selectbox", "ms_syn").set_value(f"samples/{folder.name}").run())
    expected = compute_mask_stats(None, folder, training_masks_from=demo_ws.checkpoints)
    real_rows = expected.table[expected.table.source == "real"]
    assert list(real_rows["true_pixel_pct"]) == [pytest.approx(truth)]  # one training mask, not the dataset
    assert at.metric[0].value == f"{expected.distance['wasserstein']:.1f} pp"
    sentence = read_mask_stats(expected, "the checkpoints' training masks")
    assert [i.value for i in at.info if i.value == sentence]
    assert "n = 1" in sentence and "compare the averages" in sentence


# ---------------------------------------------------------------------------------------------- names
@pytest.mark.slow
def test_the_train_form_sends_a_friendly_name(demo_ws: Workspace, spawned: list) -> None:
    import json

    at = ok(page(page_path("Checkpoints")).run())
    at = ok(by_key(at, "multiselect", "tr_stems").set_value(["ihc_r0_c384"]).run())
    assert by_key(at, "text_input", "tr_name").value == "ihc_r0_c384"   # follows the image until typed
    at = ok(by_key(at, "text_input", "tr_name").set_value("gland, first try").run())
    ok(by_key(at, "button", "tr_go").click().run())
    args = json.loads((spawned[0] / "spec.json").read_text())["args"]
    assert args["names"] == {"ihc_r0_c384": "gland_first_try"} and (demo_ws.checkpoints / "gland_first_try").is_dir()


@pytest.mark.slow
def test_the_checkpoints_page_renames_and_the_teaching_pages_follow(demo_ws: Workspace) -> None:
    from singanseg_core.sampling.manifest import read_manifest

    folder = save_samples(demo_ws, "set1", n=2)
    old = demo_ws.list_checkpoints()[0]
    at = ok(page(page_path("Checkpoints")).run())
    at = ok(by_key(at, "selectbox", "ck_pick").set_value(old).run())
    at = ok(by_key(at, "text_input", f"ck_rename_{old}").set_value("ihc_r256_c256").run())
    at = by_key(at, "button", "ck_rename_go").click().run()
    assert [e.value for e in at.error if "is in use" in e.value]       # a name in use: one line, nothing moved
    assert (demo_ws.checkpoints / old).is_dir()
    at = ok(by_key(at, "text_input", f"ck_rename_{old}").set_value("my_favourite").run())
    at = ok(by_key(at, "button", "ck_rename_go").click().run())
    assert not (demo_ws.checkpoints / old).exists() and set(read_manifest(folder)["checkpoint"]) == {"my_favourite"}
    assert by_key(at, "selectbox", "ck_pick").value == "my_favourite"
    assert [s.value for s in at.success if "Renamed checkpoint" in s.value]
    assert at.session_state[CURRENT_CHECKPOINT_KEY][0] == "my_favourite"   # the teaching pages open on it


# ---------------------------------------------------------------------------------------------- unlock token
def _unlocked_session(monkeypatch: pytest.MonkeyPatch, cookie: str | None):  # noqa: ANN202 - AppTest
    import ui.unlock_cookie as unlock_cookie

    monkeypatch.setattr(unlock_cookie, "browser_token", lambda: cookie)   # what the browser sends on a reload
    return ok(page("app.py").run())


def _cookie_scripts(at) -> list[str]:  # noqa: ANN001 - AppTest
    return [e.proto.body for e in at.get("html") if "document.cookie" in e.proto.body]


def test_an_unlock_survives_a_reload_in_that_browser_only(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from singanseg_core.services.unlock_token import issue_token, server_secret, verify_token
    from ui.access import UNLOCKED_KEY, policy
    from ui.unlock_cookie import LOCKED_AGAIN_KEY, PENDING_KEY

    monkeypatch.setenv("SINGANSEG_MODE", "classroom")
    monkeypatch.setenv("SINGANSEG_PASSPHRASE", "a-long-passphrase")
    secret, digest = server_secret(demo_ws.root), policy().passphrase_sha256
    # a reload of the browser that unlocked (a new session that sends the cookie) is unlocked
    token = issue_token(secret, digest)
    again = _unlocked_session(monkeypatch, token)
    assert again.session_state[UNLOCKED_KEY] and any("unlocked in this session" in c.value for c in again.caption)
    # another browser, a forged, expired or oversized cookie: still locked
    expired = issue_token(secret, digest, now=0.0)
    for cookie in (None, token[:-1] + ("0" if token[-1] != "0" else "1"), expired, "9" * 5000):
        other = _unlocked_session(monkeypatch, cookie)
        assert not other.session_state[UNLOCKED_KEY] if UNLOCKED_KEY in other.session_state else True, cookie
    # after "Lock again" (ui.unlock_cookie.forget_unlock; its click under AppTest is lost, see the report) this
    # session stays locked although its browser still sends the cookie, and the cookie is expired
    again.session_state[UNLOCKED_KEY] = False
    again.session_state[LOCKED_AGAIN_KEY] = True
    again.session_state[PENDING_KEY] = ""
    again = ok(again.run())
    assert [s for s in _cookie_scripts(again) if "Max-Age=0" in s]
    assert not ok(again.run()).session_state[UNLOCKED_KEY]
    # the cookie written after an unlock: a token that verifies, never the passphrase
    again.session_state[PENDING_KEY] = issue_token(secret, digest)
    scripts = _cookie_scripts(ok(again.run()))
    assert len(scripts) == 1 and "a-long-passphrase" not in scripts[0] and "SameSite=Strict" in scripts[0]
    written = re.search(r"singanseg_unlock=([0-9a-f.]+);", scripts[0]).group(1)
    assert verify_token(written, secret, digest)
