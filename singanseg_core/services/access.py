"""Who may do what on a shared dashboard: the open mode (the default, one user on their own machine) and the
classroom mode (a teacher's server shared with a class).

In **classroom** mode visitors browse, sample, compare and plot, but every *write action* (:data:`WRITE_ACTIONS`:
uploading, training, importing, saving samples, style transfer, studies, deleting, cancelling and resuming jobs)
is locked unless the session was unlocked with the passphrase set on the server (or locked for good when none
is set), and paths are shown relative to the workspace. In both modes a browser session may upload at most
``max_uploads_per_session`` files and the server process at most ``max_uploads_per_server`` (until it restarts;
a new browser session does not reset it). A zip counts as the images it holds.

The policy comes from the server's environment (:func:`policy_from_env`)::

    SINGANSEG_MODE=classroom            # or "open" (default)
    SINGANSEG_PASSPHRASE=...            # classroom: unlocks write actions (or SINGANSEG_PASSPHRASE_SHA256=<hex>)
    SINGANSEG_MAX_UPLOADS=2500          # files per browser session (both modes)
    SINGANSEG_MAX_UPLOADS_SERVER=10000  # files per server process, every session together (both modes)

Only the sha256 of the passphrase is kept; :meth:`AccessPolicy.check_passphrase` compares in constant time.
Guesses go through one process-wide :class:`PassphraseGate` (:func:`passphrase_gate`): after a few wrong guesses
from any session, every session waits, the wait doubling with each further wrong guess (capped), so opening
more browser tabs does not buy more guesses; failed attempts are logged (never the guess).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import InputError
from .workspace import Workspace

MODES = ("open", "classroom")
WRITE_ACTIONS = ("upload", "train", "import", "sample-save", "style", "study", "delete", "rename", "cancel",
                 "resume")
# What each write action is called in a sentence people read (a locked button's help never shows the action id).
ACTION_WORDS = {"upload": "Uploading files", "train": "Training", "import": "Importing checkpoints",
                "sample-save": "Saving samples", "style": "Style transfer", "study": "Running studies",
                "delete": "Deleting", "rename": "Renaming checkpoints",
                "cancel": "Cancelling jobs", "resume": "Resuming jobs"}
DEFAULT_MAX_UPLOADS = 2500          # files per session: a Kvasir-SEG zip (1000 images + 1000 masks) fits
DEFAULT_MAX_UPLOADS_SERVER = 10_000  # files per server process, all sessions together
MAX_UPLOADS_LIMIT = 1_000_000
MODE_ENV, PASSPHRASE_ENV, PASSPHRASE_SHA256_ENV, MAX_UPLOADS_ENV, MAX_UPLOADS_SERVER_ENV = (
    "SINGANSEG_MODE", "SINGANSEG_PASSPHRASE", "SINGANSEG_PASSPHRASE_SHA256", "SINGANSEG_MAX_UPLOADS",
    "SINGANSEG_MAX_UPLOADS_SERVER")
ENV_NAMES = (MODE_ENV, PASSPHRASE_ENV, PASSPHRASE_SHA256_ENV, MAX_UPLOADS_ENV,
             MAX_UPLOADS_SERVER_ENV)  # every variable the policy reads
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AccessPolicy:
    """What sessions may do.

    Attributes:
        mode: ``"open"`` (default: everything allowed) or ``"classroom"``.
        passphrase_sha256: classroom: write actions unlock with the passphrase of this sha256 (hex);
            ``None`` = write actions are never allowed.
        max_uploads_per_session: files one browser session may upload (both modes).
        max_uploads_per_server: files the server process may receive from all sessions together until it
            restarts (both modes).
    """

    mode: str = "open"
    passphrase_sha256: str | None = None
    max_uploads_per_session: int = DEFAULT_MAX_UPLOADS
    max_uploads_per_server: int = DEFAULT_MAX_UPLOADS_SERVER

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.passphrase_sha256 is not None and not _HEX64.match(str(self.passphrase_sha256)):
            raise InputError("passphrase_sha256 must be 64 lower-case hex digits")
        for field in ("max_uploads_per_session", "max_uploads_per_server"):
            n = getattr(self, field)
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_UPLOADS_LIMIT:
                raise InputError(f"{field} must be an integer in 0..{MAX_UPLOADS_LIMIT}, got {n!r}")

    @property
    def classroom(self) -> bool:
        return self.mode == "classroom"

    def allows(self, action: str, unlocked: bool = False) -> tuple[bool, str]:
        """Whether a session may do ``action`` (``unlocked``: it entered the passphrase), and one sentence why.

        Read actions (anything not in :data:`WRITE_ACTIONS`, e.g. ``"browse"``, ``"sample"``, ``"download"``)
        are always allowed. Raises ``InputError`` for an empty or non-string action.
        """
        if not isinstance(action, str) or not action:
            raise InputError(f"action must be a non-empty name, got {action!r}")
        if action not in WRITE_ACTIONS:
            return True, f"'{action}' only reads the workspace."
        if not self.classroom:
            return True, "The dashboard runs in open mode: every action is allowed."
        words = ACTION_WORDS[action]
        if self.passphrase_sha256 is None:
            return False, (f"{words} is for the teacher in classroom mode and stays disabled on this server (no "
                           "passphrase is set): visitors can browse, sample, compare and plot, but not change the "
                           "workspace.")
        if unlocked:
            return True, f"{words} is allowed: this session was unlocked with the passphrase."
        return False, f"{words} is for the teacher in classroom mode: enter the teacher's passphrase to unlock it."

    def check_passphrase(self, text: str) -> bool:
        """True when ``text`` is the passphrase (sha256 compared in constant time); always False without one."""
        if self.passphrase_sha256 is None or not isinstance(text, str) or not text:
            return False
        return hmac.compare_digest(sha256_hex(text), self.passphrase_sha256)

    def uploads_left(self, used: int) -> int:
        """Files a session that has uploaded ``used`` may still upload."""
        return max(0, self.max_uploads_per_session - max(0, int(used)))

    def display_path(self, ws: Workspace, path: str | os.PathLike) -> str:
        """``path`` for display: as it is in open mode; in classroom mode relative to the workspace
        (``workspace/...``), and ``<outside the workspace>`` for anything else, so no server path is shown."""
        if not self.classroom:
            return str(path)
        p = Path(path)
        full = p if p.is_absolute() else ws.root / p
        try:
            rel = full.resolve().relative_to(ws.root)
        except (ValueError, OSError, RuntimeError):
            return "<outside the workspace>"
        return "workspace" if str(rel) == "." else f"workspace/{rel.as_posix()}"


def policy_from_env(environ: Mapping[str, str] = os.environ) -> AccessPolicy:
    """The policy the server's environment sets (see the module docstring).

    Raises:
        InputError: an unknown mode, an empty passphrase, a malformed sha256, both passphrase variables, a
            passphrase in open mode (it would protect nothing), or an upload cap that is not a count.
    """
    mode = (environ.get(MODE_ENV) or "open").strip().lower()
    if mode not in MODES:
        raise InputError(f"{MODE_ENV}={environ.get(MODE_ENV)!r}: use one of {', '.join(MODES)}")
    plain, hashed = environ.get(PASSPHRASE_ENV), environ.get(PASSPHRASE_SHA256_ENV)
    if plain is not None and hashed is not None:
        raise InputError(f"set {PASSPHRASE_ENV} or {PASSPHRASE_SHA256_ENV}, not both")
    digest: str | None = None
    if plain is not None:
        if not plain.strip():
            raise InputError(f"{PASSPHRASE_ENV} is empty; unset it to disable write actions in classroom mode")
        if len(plain) < 8:
            raise InputError(f"{PASSPHRASE_ENV} is shorter than 8 characters; choose a longer passphrase")
        digest = sha256_hex(plain)
    elif hashed is not None:
        digest = hashed.strip().lower()
        if not _HEX64.match(digest):
            raise InputError(f"{PASSPHRASE_SHA256_ENV} must be 64 hex digits (sha256sum of the passphrase)")
    if digest is not None and mode != "classroom":
        raise InputError(f"a passphrase only applies with {MODE_ENV}=classroom (open mode allows everything)")
    return AccessPolicy(mode, digest, _count_env(environ, MAX_UPLOADS_ENV, DEFAULT_MAX_UPLOADS),
                        _count_env(environ, MAX_UPLOADS_SERVER_ENV, DEFAULT_MAX_UPLOADS_SERVER))


def _count_env(environ: Mapping[str, str], name: str, default: int) -> int:
    """The file count ``environ[name]`` (``default`` when unset); one line naming the variable when it is not a
    whole number in 0..MAX_UPLOADS_LIMIT (the environment-number rule of ``services.budget``)."""
    from .budget import _env_int

    return _env_int(environ, name, default, 0, MAX_UPLOADS_LIMIT)


# ---------------------------------------------------------------------------------------------- guessing limit
LOG = logging.getLogger(__name__)
FREE_WRONG_GUESSES = 5      # server-wide wrong guesses before any wait (a teacher's typos)
FIRST_WAIT_S = 1.0          # the wait after the first wrong guess beyond the free ones; doubles with each
MAX_WAIT_S = 300.0          # the longest wait (5 min): at most ~12 guesses an hour once it is reached
FORGET_AFTER_S = 3600.0     # an hour without a wrong guess starts the count afresh


@dataclass(frozen=True)
class GateAnswer:
    """What :meth:`PassphraseGate.check` decided: ``state`` ``"ok"`` / ``"wrong"`` / ``"wait"``, ``wait_s`` (s
    before the next guess is looked at, 0 when none) and ``message`` (one sentence for the page)."""

    state: str
    wait_s: float
    message: str

    @property
    def ok(self) -> bool:
        return self.state == "ok"


class PassphraseGate:
    """A server-wide (thread-safe) limit on passphrase guesses with exponential backoff.

    The count of wrong guesses is shared by every session: after :data:`FREE_WRONG_GUESSES` the server waits
    ``FIRST_WAIT_S * 2**k`` s (capped at :data:`MAX_WAIT_S`) after the k-th further wrong guess, and a guess that
    arrives during the wait is not even compared (answer ``"wait"``). A right guess resets the count
    (the teacher unlocking). ``now`` (s, any monotonic clock) is injectable for tests.
    """

    def __init__(self, policy: AccessPolicy, free: int = FREE_WRONG_GUESSES, first_wait_s: float = FIRST_WAIT_S,
                 max_wait_s: float = MAX_WAIT_S, forget_after_s: float = FORGET_AFTER_S) -> None:
        self.policy = policy
        self.free, self.first_wait_s, self.max_wait_s, self.forget_after_s = free, first_wait_s, max_wait_s, \
            forget_after_s
        self._lock = threading.Lock()
        self.wrong = 0
        self._last_wrong = float("-inf")
        self._blocked_until = float("-inf")

    def check(self, session_id: str, guess: str, now: float | None = None) -> GateAnswer:
        """Compare ``guess`` unless the server is waiting; logs each wrong guess with a short session tag."""
        now = time.monotonic() if now is None else float(now)
        with self._lock:
            if now < self._blocked_until:
                wait = self._blocked_until - now
                return GateAnswer("wait", wait, f"Too many wrong passphrases on this server: try again in "
                                                f"{math.ceil(wait)} s.")
            if now - self._last_wrong > self.forget_after_s:
                self.wrong = 0
            if self.policy.check_passphrase(guess):
                self.wrong = 0
                return GateAnswer("ok", 0.0, "Unlocked: write actions are allowed in this session.")
            self.wrong += 1
            self._last_wrong = now
            beyond = self.wrong - self.free
            wait = min(self.max_wait_s, self.first_wait_s * 2.0 ** (beyond - 1)) if beyond > 0 else 0.0
            self._blocked_until = now + wait
            tag = hashlib.sha256(str(session_id).encode("utf-8")).hexdigest()[:8]
            LOG.warning("wrong passphrase from session %s (%d wrong on this server; next guess in %.0f s)",
                        tag, self.wrong, wait)
        return GateAnswer("wrong", wait, "Wrong passphrase." + (f" Next try in {math.ceil(wait)} s." if wait else ""))


_GATES: dict[str | None, PassphraseGate] = {}
_GATES_LOCK = threading.Lock()


def passphrase_gate(policy: AccessPolicy) -> PassphraseGate:
    """The one gate of this process for ``policy``'s passphrase (every session and thread shares it)."""
    with _GATES_LOCK:
        gate = _GATES.get(policy.passphrase_sha256)
        if gate is None:
            gate = _GATES[policy.passphrase_sha256] = PassphraseGate(policy)
        return gate


__all__ = ["ACTION_WORDS", "AccessPolicy", "DEFAULT_MAX_UPLOADS", "DEFAULT_MAX_UPLOADS_SERVER", "ENV_NAMES", "GateAnswer",
           "MODES", "PassphraseGate",
           "WRITE_ACTIONS", "passphrase_gate", "policy_from_env", "sha256_hex"]
