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


PAGES = [
    PageEntry("pages/home.py", "Home", ":material/home:"),
    PageEntry("pages/checkpoints.py", "Checkpoints", ":material/inventory_2:"),
    PageEntry("pages/sample.py", "Sample", ":material/auto_awesome:"),
    PageEntry("pages/how_it_works.py", "How it works", ":material/school:"),
    PageEntry("pages/style_transfer.py", "Style transfer", ":material/palette:"),
    PageEntry("pages/mask_statistics.py", "Mask statistics", ":material/bar_chart:"),
    PageEntry("pages/augmentation_study.py", "Augmentation study", ":material/science:"),
]


def page_slug(label: str) -> str:
    """URL path of a page: "Style transfer" -> "Style_transfer" (the Home page, first, is served at "/")."""
    return label.replace(" ", "_")


def page_path(label: str) -> str:
    """The script of the page labelled ``label``."""
    for page in PAGES:
        if page.label == label:
            return page.path
    raise KeyError(label)
