"""The one writer of ``bench/RESULTS.md``: each benchmark owns one ``## `` section and replaces only that."""

from __future__ import annotations

from pathlib import Path

from singanseg_core.files.atomic import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(body: str, path: Path = RESULTS) -> Path:
    """Replace the section whose heading is ``body``'s first line (up to the next ``## `` heading), or append it.

    Every other section is kept as it is; the file is written atomically.
    """
    heading = body.strip("\n").splitlines()[0].rstrip()
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else ["# Benchmark results"]
    block = body.strip("\n").splitlines() + [""]
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines = lines[:start] + block + lines[end:]
    else:
        lines = lines + [""] + block
    return atomic_write_text(path, "\n".join(lines).rstrip("\n") + "\n")
