"""**The** reader of untrusted JSON files (checkpoint configs, training logs, job files, study files, sources).

Every parse or conversion problem (bad bytes, bad syntax, an integer of thousands of digits, nesting deeper than
any file we write, a file too large) becomes one :class:`UnreadableJSONError` line naming the file, so one bad
file never takes a listing down. Work is bounded: at most ``max_bytes`` are read, integers may have at most
:data:`MAX_INT_DIGITS` digits (Python's own 4300-digit limit would raise a bare ``ValueError``), and the parsed
value may nest at most :data:`MAX_DEPTH` levels (checked without recursion).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, InputError

MAX_DEPTH = 32          # our files nest at most 5 levels (a study config inside a job's args)
MAX_INT_DIGITS = 40     # larger than any count, seed (2**64 has 20 digits) or timestamp we store
DEFAULT_MAX_BYTES = 4 * 2**20


class UnreadableJSONError(CheckpointError, InputError):
    """A JSON file that cannot be parsed within the bounds; both an input and a checkpoint problem, so callers
    catching either keep working. ``why`` is the problem without the file name."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: unreadable, not valid JSON ({why})")
        self.why = why


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _depth_problem(value: Any) -> str | None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return None


def loads_bounded(raw: bytes | str, where: str) -> Any:
    """Parse ``raw`` (UTF-8 bytes or text) as JSON within the bounds; ``where`` names the source in errors.

    Raises:
        UnreadableJSONError: not UTF-8, not JSON, an over-long integer, too deep.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise UnreadableJSONError(where, f"nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise UnreadableJSONError(where, "not UTF-8 text") from None
    except (ValueError, TypeError) as err:  # JSONDecodeError is a ValueError; so is our integer cap
        raise UnreadableJSONError(where, str(err).splitlines()[0][:120] if str(err) else type(err).__name__) \
            from None
    problem = _depth_problem(value)
    if problem:
        raise UnreadableJSONError(where, problem)
    return value


def read_json(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES, expect: type | None = dict) -> Any:
    """The JSON value in ``path``, read within the bounds (at most ``max_bytes`` bytes, no symbolic link).

    Args:
        expect: the type the top-level value must have (``None``: any).
    Raises:
        UnreadableJSONError: missing, a link, too large, unreadable, not JSON, or not of type ``expect``.
    """
    path = Path(path)
    if path.is_symlink():
        raise UnreadableJSONError(str(path), "a symbolic link; not read")
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as err:
        raise UnreadableJSONError(str(path), err.strerror or type(err).__name__) from None
    if len(raw) > max_bytes:
        raise UnreadableJSONError(str(path), f"larger than {max_bytes} bytes")
    value = loads_bounded(raw, str(path))
    if expect is not None and not isinstance(value, expect):
        raise UnreadableJSONError(str(path), f"expected a JSON {expect.__name__}, found a {type(value).__name__}")
    return value
