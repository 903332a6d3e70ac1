"""Browser uploads into a workspace dataset: counted against this session's and the server's caps
(:func:`ui.access.counted_upload`), the result or the problem in one line each."""

from __future__ import annotations

from typing import Any

import streamlit as st

from singanseg_core.services.workspace import Workspace
from ui.access import counted_upload
from ui.feedback import report_lines, show_error


def add_uploaded_pairs(ws: Workspace, dataset: str, images: list[Any], masks: list[Any]) -> None:
    """Pair uploaded image and mask files by stem (``files.uploads.pair_uploads``) and add them to ``dataset``."""
    from singanseg_core.files.uploads import pair_uploads

    try:
        pairs = pair_uploads([(f.name, f.getvalue()) for f in images], [(f.name, f.getvalue()) for f in masks])
        with counted_upload(len(images) + len(masks)):
            added = ws.add_pairs(dataset, pairs)
        st.success(f"Added {len(added.written)} pair(s) to datasets/{added.folder.name}.")
        report_lines(added.skipped, added.notes)
    except Exception as err:  # noqa: BLE001
        show_error(err)


def import_uploaded_zip(ws: Workspace, dataset: str, zfile: Any) -> None:
    """Unpack an uploaded Kvasir-SEG-layout zip into a new dataset folder (a zip counts as the images it holds)."""
    from singanseg_core.services.uploads_quota import zip_image_count

    try:
        data = zfile.getvalue()
        with counted_upload(zip_image_count(data, zfile.name)), st.spinner("Unpacking..."):
            done = ws.import_zip(data, dataset)
        st.success(f"Imported {done.pairs} pair(s) into datasets/{done.folder.name}.")
        report_lines(done.skipped, done.notes)
    except Exception as err:  # noqa: BLE001
        show_error(err)
