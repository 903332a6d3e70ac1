"""The classroom gate for this browser session: the server's ``services.access`` policy, the passphrase unlock
and the upload caps (per session, per server; the sidebar draws the unlock field, :mod:`ui.sidebar`; the server-side
guards below the pages are :mod:`ui.server_guard`)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import streamlit as st

from singanseg_core.errors import InputError
from singanseg_core.services.access import ENV_NAMES
from singanseg_core.services.uploads_quota import UploadCounts
from singanseg_core.services.workspace import Workspace

UNLOCKED_KEY = "classroom_unlocked"      # session key: this browser session entered the passphrase


@st.cache_resource(show_spinner=False)
def _policy(*values: str | None):  # noqa: ANN202 - AccessPolicy
    from singanseg_core.services.access import policy_from_env

    return policy_from_env({k: v for k, v in zip(ENV_NAMES, values) if v is not None})


def policy():  # noqa: ANN201 - AccessPolicy
    """The server's access policy (``services.access.policy_from_env``; open mode unless set)."""
    return _policy(*(os.environ.get(k) for k in ENV_NAMES))


def shown_path(ws: Workspace, path: str | Path) -> str:
    """``path`` as the page may show it: as is in open mode, relative to the workspace in classroom mode."""
    return policy().display_path(ws, path)


def why_help(action: str) -> str | None:
    """The tooltip of a control the policy locks (``"Disabled: <why>"``), or ``None`` when it is allowed."""
    why = why_locked(action)
    return f"Disabled: {why}" if why else None


def why_locked(action: str) -> str | None:
    """``None`` when this session may do ``action``; else the policy's one sentence why not."""
    allowed, why = policy().allows(action, unlocked=bool(st.session_state.get(UNLOCKED_KEY)))
    return None if allowed else why


UPLOADS_KEY = "uploads_used"             # session key: files this browser session has uploaded
ADDED = UploadCounts()                   # files uploads added to the workspace, every session of this process


def upload_limit(n_files: int) -> str | None:
    """``None`` when this session may upload ``n_files`` more files under the server's caps (per browser session,
    ``SINGANSEG_MAX_UPLOADS``, and per server process, ``SINGANSEG_MAX_UPLOADS_SERVER``; both modes); else why not."""
    pol = policy()
    left = pol.uploads_left(int(st.session_state.get(UPLOADS_KEY, 0)))
    if n_files > left:
        return (f"this session may upload {left} more file(s) (the server allows "
                f"{pol.max_uploads_per_session} per browser session)")
    return ADDED.refusal(n_files, pol.max_uploads_per_server)


def refuse_upload(n_files: int) -> None:
    """The server-side check when an upload click arrives (the button may have been drawn before the cap was
    reached, e.g. in another run): the access policy, then the upload caps."""
    why = why_locked("upload") or upload_limit(n_files)
    if why:
        raise InputError(f"upload refused: {why}")


@contextmanager
def counted_upload(n_files: int) -> Iterator[None]:
    """Around adding ``n_files`` uploaded files (images, masks, the images a zip holds) to the workspace: refused
    with ``InputError`` when :func:`refuse_upload` refuses, else counted for this session and the server (checked
    and counted at once, so two sessions cannot both take the last files); uncounted when the block raises."""
    refuse_upload(n_files)
    why = ADDED.take(n_files, policy().max_uploads_per_server)
    if why:
        raise InputError(f"upload refused: {why}")
    try:
        yield
    except BaseException:
        ADDED.give_back(n_files)
        raise
    st.session_state[UPLOADS_KEY] = int(st.session_state.get(UPLOADS_KEY, 0)) + int(n_files)
