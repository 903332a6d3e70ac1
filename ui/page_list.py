"""The dashboard's pages, in menu order: one list for ``app.py`` (the router), Home (links) and the tests.

A page's URL path comes from its label (``page_slug``); browser deep links depend on it, so a label change is a
URL change.
"""

from __future__ import annotations

from typing import NamedTuple

APP_TITLE = "SinGAN-Seg Studio"


class PageEntry(NamedTuple):
    """One page: its script (relative to the repository root), menu label and Material icon."""

    path: str
    label: str
    icon: str


def page_slug(label: str) -> str:
    """URL path of a page: "Style transfer" -> "Style_transfer" (the Home page, first, is served at "/")."""
    return label.replace(" ", "_")


def _entry(label: str, icon: str) -> PageEntry:
    # The script is named after the URL: Streamlit still reads the ``pages/`` folder and names each script by its
    # file, so a page opened by its URL (a deep link, a reload) shows "Page not found" unless the two agree.
    return PageEntry(f"pages/{page_slug(label)}.py", label, icon)


PAGES = [
    _entry("Home", ":material/home:"),
    _entry("Checkpoints", ":material/inventory_2:"),
    _entry("Sample", ":material/auto_awesome:"),
    _entry("How it works", ":material/school:"),
    _entry("Style transfer", ":material/palette:"),
    _entry("Mask statistics", ":material/bar_chart:"),
    _entry("Augmentation study", ":material/science:"),
]


def page_path(label: str) -> str:
    """The script of the page labelled ``label``."""
    for page in PAGES:
        if page.label == label:
            return page.path
    raise KeyError(label)
