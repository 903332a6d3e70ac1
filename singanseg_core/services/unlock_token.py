"""A classroom unlock that survives a page reload for a limited time, without ever storing the passphrase.

After a session enters the passphrase the dashboard gives that browser a token (kept in a cookie): the expiry time,
a random nonce and an HMAC-SHA256 of both under a key derived from a per-server secret kept in the workspace
(:func:`server_secret`, made once, readable by the server's user only) and the passphrase's hash, so a new
passphrase or a new secret voids every token. :func:`verify_token` checks the length cap, the format, the
signature (constant-time) and the expiry; anything else is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

UNLOCK_TTL_S = 2 * 3600          # a token unlocks for this long after the passphrase was entered (seconds)
MAX_TOKEN_CHARS = 200            # longer cookie values are refused unread
SECRET_FILE = ".unlock_secret"   # in the workspace root: 32 random bytes, mode 0600
SECRET_BYTES = 32


def server_secret(root: str | os.PathLike) -> bytes:
    """The per-server secret of the workspace ``root`` (created on first use; racing servers agree on the file
    that was written first)."""
    path = Path(root) / SECRET_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(SECRET_BYTES))
    data = path.read_bytes()[:SECRET_BYTES]
    if len(data) < SECRET_BYTES:   # a torn first write: start again with a new secret (voids old tokens)
        path.unlink(missing_ok=True)
        return server_secret(root)
    return data


def _key(secret: bytes, passphrase_sha256: str) -> bytes:
    return hashlib.sha256(secret + b"|" + passphrase_sha256.encode()).digest()


def _sign(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def issue_token(secret: bytes, passphrase_sha256: str, now: float | None = None, ttl_s: float = UNLOCK_TTL_S) -> str:
    """A token ``<expiry>.<nonce>.<signature>`` valid for ``ttl_s`` seconds from ``now`` (epoch seconds)."""
    expires = int((time.time() if now is None else now) + ttl_s)
    body = f"{expires}.{secrets.token_hex(8)}"
    return f"{body}.{_sign(_key(secret, passphrase_sha256), body)}"


def verify_token(token: object, secret: bytes, passphrase_sha256: str | None, now: float | None = None) -> bool:
    """Whether ``token`` was issued under this secret and passphrase and has not expired."""
    if not isinstance(token, str) or not passphrase_sha256 or len(token) > MAX_TOKEN_CHARS:
        return False
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 12:
        return False
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _sign(_key(secret, passphrase_sha256), body)):
        return False
    return (time.time() if now is None else now) < int(parts[0])
