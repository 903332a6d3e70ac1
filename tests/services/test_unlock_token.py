"""The signed, expiring unlock token of the classroom mode."""

from __future__ import annotations

import pytest

from singanseg_core.services.unlock_token import (MAX_TOKEN_CHARS, UNLOCK_TTL_S, issue_token, server_secret,
                                                  verify_token)

HASH = "ab" * 32


def test_a_token_unlocks_until_it_expires(tmp_path) -> None:
    secret = server_secret(tmp_path)
    assert server_secret(tmp_path) == secret and len(secret) == 32                 # made once, kept
    assert (tmp_path / ".unlock_secret").stat().st_mode & 0o077 == 0               # the server's user only
    token = issue_token(secret, HASH, now=1000.0)
    assert verify_token(token, secret, HASH, now=1000.0 + UNLOCK_TTL_S - 1)
    assert not verify_token(token, secret, HASH, now=1000.0 + UNLOCK_TTL_S)
    assert HASH not in token


@pytest.mark.parametrize("spoil", [
    lambda t, s: (t, b"x" * 32, HASH),                                 # another server's secret
    lambda t, s: (t, s, "cd" * 32),                                    # a new passphrase
    lambda t, s: ("9999999999." + t.split(".", 1)[1], s, HASH),        # a later expiry, same signature
    lambda t, s: (t[:-1] + ("0" if t[-1] != "0" else "1"), s, HASH),   # a changed signature
    lambda t, s: ("1" * (MAX_TOKEN_CHARS + 1), s, HASH),               # too long
    lambda t, s: ("", s, HASH), lambda t, s: ("a.b", s, HASH), lambda t, s: (None, s, HASH),
    lambda t, s: (t, s, None),                                         # no passphrase configured
])
def test_a_forged_or_foreign_token_is_refused(tmp_path, spoil) -> None:
    secret = server_secret(tmp_path)
    token = issue_token(secret, HASH, now=1000.0)
    assert not verify_token(*spoil(token, secret), now=1001.0)
