"""Classroom mode (``services.access``): who may do what, the passphrase, paths shown, the environment."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from singanseg_core.errors import InputError
from singanseg_core.services.access import (
    ACTION_WORDS,
    DEFAULT_MAX_UPLOADS,
    WRITE_ACTIONS,
    AccessPolicy,
    policy_from_env,
)
from singanseg_core.services.workspace import Workspace
from tests.helpers import REPO_ROOT as ROOT

SECRET = "correct horse battery"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
READS = ("browse", "sample", "compare", "plot", "download")


# an action name the dashboard passes to the gate: button(action="x"), why_locked("x"), refuse_if_locked("x")
ACTION_LITERAL = re.compile(r"""(?:\baction=|\bwhy_locked\(|\brefuse_if_locked\()\s*["']([^"']+)["']""")


def dashboard_action_names() -> set[str]:
    """Every action name written as a literal in the dashboard's sources (everything outside the engine, the
    tests, the benchmarks and the environment)."""
    skip = {"singanseg_core", "tests", "bench", "testkit", ".venv", ".git", "workspace"}
    names: set[str] = set()
    for path in ROOT.rglob("*.py"):
        if not skip & set(path.relative_to(ROOT).parts):
            names |= set(ACTION_LITERAL.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_action_the_dashboard_gates_is_locked_in_classroom_mode() -> None:
    """A misspelt action name would count as a read and pass the classroom gate: every name the dashboard asks
    about must be one the policy locks, and every locked action must be one the dashboard asks about."""
    names = dashboard_action_names()
    policy = AccessPolicy("classroom", DIGEST)
    assert {"upload", "train", "sample-save", "delete"} <= names  # the scan sees the dashboard
    for name in names:
        ok, why = policy.allows(name)
        assert not ok and "passphrase" in why, f"the dashboard's action {name!r} is not locked in classroom mode"
    assert names == set(WRITE_ACTIONS)


def test_open_mode_allows_everything() -> None:
    policy = AccessPolicy()
    assert policy.mode == "open" and policy.passphrase_sha256 is None
    assert policy.max_uploads_per_session == DEFAULT_MAX_UPLOADS
    for action in WRITE_ACTIONS + READS:
        ok, why = policy.allows(action)
        assert ok and why.endswith(".") and "\n" not in why


def test_the_documented_upload_cap_is_the_default_in_both_modes() -> None:
    """The README's "default N" is what a session gets with no setting: N - 1 uploads leave one, N leave none."""
    documented = re.search(r"SINGANSEG_MAX_UPLOADS`\s+files\s+\(default (\d+)", (ROOT / "README.md").read_text())
    assert documented, "the README no longer states the upload cap's default"
    n = int(documented.group(1))
    for policy in (policy_from_env({}), policy_from_env({"SINGANSEG_MODE": "classroom"})):
        assert (policy.uploads_left(n - 1), policy.uploads_left(n), policy.uploads_left(n + 5)) == (1, 0, 0)


def test_classroom_locks_every_write_until_unlocked() -> None:
    policy = AccessPolicy("classroom", DIGEST, 20)
    for action in WRITE_ACTIONS:
        ok, why = policy.allows(action)
        assert not ok and "passphrase" in why and why.startswith(ACTION_WORDS[action])
        ok, why = policy.allows(action, unlocked=True)
        assert ok and "unlocked" in why
    for action in READS:
        assert policy.allows(action) == (True, f"'{action}' only reads the workspace.")


def test_locked_actions_say_why_in_plain_words_without_action_ids() -> None:
    """A locked button's help is read by people: "Saving samples is for the teacher ...", never 'sample-save'."""
    assert set(ACTION_WORDS) == set(WRITE_ACTIONS)
    for policy in (AccessPolicy("classroom", DIGEST), AccessPolicy("classroom", None)):
        for action in WRITE_ACTIONS:
            for unlocked in (False, True):
                why = policy.allows(action, unlocked=unlocked)[1]
                assert why.startswith(ACTION_WORDS[action]), why
                assert not any(f"'{a}'" in why for a in WRITE_ACTIONS) and "sample-save" not in why, why
    assert policy.allows("sample-save")[1].startswith("Saving samples is for the teacher in classroom mode")


def test_classroom_without_passphrase_never_unlocks() -> None:
    policy = AccessPolicy("classroom", None)
    for action in WRITE_ACTIONS:
        ok, why = policy.allows(action, unlocked=True)  # a forged "unlocked" flag changes nothing
        assert not ok and "disabled" in why
    assert not policy.check_passphrase("") and not policy.check_passphrase(SECRET)
    assert policy.allows("browse")[0]


def test_passphrase_check() -> None:
    policy = AccessPolicy("classroom", DIGEST)
    assert policy.check_passphrase(SECRET)
    for wrong in ("", SECRET + " ", SECRET.upper(), DIGEST, None, 123):
        assert not policy.check_passphrase(wrong)  # type: ignore[arg-type]


def test_bad_policies_and_actions_are_refused() -> None:
    for kwargs in ({"mode": "public"}, {"mode": "classroom", "passphrase_sha256": "abc"},
                   {"max_uploads_per_session": -1}, {"max_uploads_per_session": True},
                   {"max_uploads_per_session": 10**7}):
        with pytest.raises(InputError):
            AccessPolicy(**kwargs)
    with pytest.raises(InputError):
        AccessPolicy().allows("")


def test_uploads_left() -> None:
    policy = AccessPolicy(max_uploads_per_session=3)
    assert [policy.uploads_left(n) for n in (0, 2, 3, 9, -4)] == [3, 1, 0, 0, 3]


def test_display_path(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    inside = ws.checkpoints / "a" / "real.png"
    classroom, open_ = AccessPolicy("classroom", DIGEST), AccessPolicy()
    assert classroom.display_path(ws, inside) == "workspace/checkpoints/a/real.png"
    assert classroom.display_path(ws, "samples/x") == "workspace/samples/x"
    assert classroom.display_path(ws, ws.root) == "workspace"
    for outside in ("/etc/passwd", tmp_path / "elsewhere", ws.root / ".." / "ws2", "../../x"):
        assert classroom.display_path(ws, outside) == "<outside the workspace>"
    assert str(tmp_path) not in classroom.display_path(ws, inside)
    assert open_.display_path(ws, inside) == str(inside)


def test_policy_from_env() -> None:
    assert policy_from_env({}) == AccessPolicy()
    policy = policy_from_env({"SINGANSEG_MODE": "Classroom", "SINGANSEG_PASSPHRASE": SECRET,
                              "SINGANSEG_MAX_UPLOADS": "12"})
    assert policy == AccessPolicy("classroom", DIGEST, 12) and policy.check_passphrase(SECRET)
    assert policy_from_env({"SINGANSEG_MODE": "classroom", "SINGANSEG_PASSPHRASE_SHA256": DIGEST.upper()}) \
        == AccessPolicy("classroom", DIGEST)
    assert policy_from_env({"SINGANSEG_MODE": "classroom"}).passphrase_sha256 is None
    assert policy_from_env({"SINGANSEG_MAX_UPLOADS": "0"}).max_uploads_per_session == 0
    assert policy_from_env({"SINGANSEG_MAX_UPLOADS_SERVER": "7"}).max_uploads_per_server == 7


@pytest.mark.parametrize("env, words", [
    ({"SINGANSEG_MODE": "public"}, "SINGANSEG_MODE"),
    ({"SINGANSEG_MODE": "classroom", "SINGANSEG_PASSPHRASE": ""}, "empty"),
    ({"SINGANSEG_MODE": "classroom", "SINGANSEG_PASSPHRASE": "short"}, "shorter than 8"),
    ({"SINGANSEG_MODE": "classroom", "SINGANSEG_PASSPHRASE_SHA256": "xyz"}, "64 hex digits"),
    ({"SINGANSEG_MODE": "classroom", "SINGANSEG_PASSPHRASE": SECRET, "SINGANSEG_PASSPHRASE_SHA256": DIGEST},
     "not both"),
    ({"SINGANSEG_PASSPHRASE": SECRET}, "only applies with SINGANSEG_MODE=classroom"),
    ({"SINGANSEG_MAX_UPLOADS": "many"}, "whole number"),
    ({"SINGANSEG_MAX_UPLOADS": "-1"}, "0..1000000"),
    ({"SINGANSEG_MAX_UPLOADS_SERVER": "lots"}, "SINGANSEG_MAX_UPLOADS_SERVER='lots' is not a whole number"),
])
def test_bad_environment_is_one_clear_line(env: dict, words: str) -> None:
    with pytest.raises(InputError) as err:
        policy_from_env(env)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_server_defaults_to_loopback() -> None:
    """`streamlit run app.py` (the config) and `make demo` answer on 127.0.0.1 unless told otherwise."""
    import re
    import tomllib

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    makefile = (root / "Makefile").read_text()
    assert re.search(r"^SINGANSEG_ADDRESS \?= 127\.0\.0\.1$", makefile, re.M)
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "--server.address $(SINGANSEG_ADDRESS)" in demo
    readme = (root / "README.md").read_text()
    assert "SINGANSEG_ADDRESS=0.0.0.0 SINGANSEG_MODE=classroom" in readme
