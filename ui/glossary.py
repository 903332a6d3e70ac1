"""The dashboard's glossary: the terms a student meets on the pages, each explained once (in plain words).

:data:`GLOSSARY` is the one place; widgets use :func:`explain` for their ``help=`` tooltips and the sidebar shows
every entry on every page (:func:`glossary_sidebar`), so a term is explained wherever it appears.
"""

from __future__ import annotations

import re

import streamlit as st

GLOSSARY: dict[str, str] = {
    "Start scale": "gen_start_scale: the scale from which a sample gets fresh noise. Scales below it copy the "
                   "training image's layout; 0 = fresh noise everywhere (most varied).",
    "Noise amplitude": "How strong the random noise added at a scale is (learned from how far that scale's "
                       "reconstruction was off): large at the coarse scales, small at the fine ones.",
    "WGAN-GP": "Wasserstein GAN with gradient penalty: the training game of SinGAN. A critic scores real and "
               "generated patches; the penalty keeps the critic smooth so training is stable.",
    "True-pixel %": "The share of a mask's pixels that are object (white), in percent: how big the polyp is.",
    "Wasserstein-1": "Earth mover's distance between two distributions of true-pixel %: how many percentage "
                     "points one histogram must move, on average, to become the other (0 = identical).",
    "KS": "Kolmogorov–Smirnov statistic: the largest gap between two cumulative distributions (0..1); its "
          "p-value says how likely that gap is if both sets came from the same distribution.",
    "IoU": "Intersection over union of a predicted and a true mask: overlap divided by the area of either "
           "(0 = no overlap, 1 = identical).",
    "Dice": "Dice score (F-score) of two masks: twice the overlap divided by the sum of both areas; always at "
            "least the IoU.",
}

# How each term shows up in page text (case-insensitive patterns).
PATTERNS: dict[str, str] = {
    "Start scale": r"start[ _]scale",
    "Noise amplitude": r"noise amp",
    "WGAN-GP": r"WGAN",
    "True-pixel %": r"true[ -]pixel",
    "Wasserstein-1": r"wasserstein",
    "KS": r"\bKS\b",
    "IoU": r"\bIoU\b",
    "Dice": r"\bDice\b|\bfscore\b|F-score",
}


def terms_in(text: str) -> list[str]:
    """The glossary terms ``text`` mentions."""
    return [term for term, pattern in PATTERNS.items() if re.search(pattern, text, flags=re.IGNORECASE)]


def explain(term: str, before: str = "") -> str:
    """A ``help=`` tooltip: ``before`` (the widget's own help) and the glossary entry of ``term``."""
    entry = f"**{term}** — {GLOSSARY[term]}"
    return f"{before}\n\n{entry}" if before else entry


def glossary_sidebar() -> None:
    """Every glossary entry in a closed sidebar expander (drawn once by ``app.py`` for every page)."""
    with st.sidebar.expander("Glossary", icon=":material/menu_book:"):
        for term, text in GLOSSARY.items():
            st.markdown(f"**{term}** — {text}")
