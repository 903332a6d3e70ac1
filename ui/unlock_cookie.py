"""The classroom unlock kept across page reloads in this browser: a signed, expiring token
(``services.unlock_token``) in a cookie, never the passphrase.

Streamlit reads cookies (``st.context.cookies``, sent with the page's connection) but has no call that sets one,
so the token is written by a one-line script (``st.html(..., unsafe_allow_javascript=True)``) on the run after
the unlock; "Lock again" expires it the same way. The cookie is ``SameSite=Strict`` (and ``Secure`` over https).
"""

from __future__ import annotations

import re

import streamlit as st

from singanseg_core.services.unlock_token import UNLOCK_TTL_S, issue_token, server_secret, verify_token
from ui.access import UNLOCKED_KEY, policy
from ui.resources import workspace

COOKIE_NAME = "singanseg_unlock"
PENDING_KEY = "_unlock_cookie_pending"   # session: the cookie value to write on the next run ("" = expire it)
LOCKED_AGAIN_KEY = "_unlock_cookie_void"  # session: locked again here: the cookie it still sends does not count
TOKEN_CHARS = re.compile(r"[0-9a-f.]*")  # what issue_token makes: safe inside the script's string


def browser_token() -> str | None:
    """The unlock token this browser sent with its connection, if any."""
    return st.context.cookies.get(COOKIE_NAME)


def restore_unlock() -> None:
    """Unlock this session when its browser holds a valid token (classroom mode with a passphrase)."""
    pol = policy()
    if not pol.classroom or pol.passphrase_sha256 is None or st.session_state.get(UNLOCKED_KEY) \
            or st.session_state.get(LOCKED_AGAIN_KEY):
        return
    if verify_token(browser_token(), server_secret(workspace().root), pol.passphrase_sha256):
        st.session_state[UNLOCKED_KEY] = True


def remember_unlock() -> None:
    """After the passphrase was entered: give this browser a token (written on the next run)."""
    st.session_state[PENDING_KEY] = issue_token(server_secret(workspace().root), policy().passphrase_sha256 or "")
    st.session_state[LOCKED_AGAIN_KEY] = False


def forget_unlock() -> None:
    """On "Lock again": expire this browser's token (on the next run); this session ignores it from now on."""
    st.session_state[PENDING_KEY] = ""
    st.session_state[LOCKED_AGAIN_KEY] = True


def write_cookie() -> None:
    """Write (or expire) the cookie asked for by :func:`remember_unlock` / :func:`forget_unlock`, once."""
    value = st.session_state.pop(PENDING_KEY, None)
    if value is None or not TOKEN_CHARS.fullmatch(value):
        return
    age = UNLOCK_TTL_S if value else 0
    st.html(f"<script>document.cookie = '{COOKIE_NAME}={value}; Max-Age={age}; Path=/; SameSite=Strict'"
            "+ (location.protocol === 'https:' ? '; Secure' : '');</script>", unsafe_allow_javascript=True)
