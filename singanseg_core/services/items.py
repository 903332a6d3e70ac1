"""The five kinds of workspace item and a reference to one (shared by ``catalog`` and ``job_tasks``).

Each item is a folder ``<root>/<category>/<name>``; :class:`ItemRef` names one, :func:`refs` makes the
references a job's arguments point at (names that are not safe folder names are left out, never raised on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import InputError
from .workspace import safe_name

CATEGORIES = ("datasets", "checkpoints", "samples", "style", "studies")
LABELS = {"datasets": "dataset", "checkpoints": "checkpoint", "samples": "sample set", "style": "style set",
          "studies": "study"}


@dataclass(frozen=True)
class ItemRef:
    """One workspace item: ``category`` (one of :data:`CATEGORIES`) and its folder ``name``."""

    category: str
    name: str

    @property
    def path(self) -> str:
        """Workspace-relative path, e.g. ``checkpoints/img1``."""
        return f"{self.category}/{self.name}"

    @property
    def label(self) -> str:
        """``checkpoint img1`` (for messages)."""
        return f"{LABELS[self.category]} {self.name}"


def refs(category: str, names: Iterable[Any]) -> list[ItemRef]:
    """``ItemRef``s of ``category`` for ``names``; a name that is not a safe folder name is skipped."""
    out = []
    for n in names:
        try:
            out.append(ItemRef(category, safe_name(str(n))))
        except InputError:
            continue
    return out
