"""The dashboard's helpers (Streamlit only here and in ``app.py`` / ``pages/``; the engine is ``singanseg_core``).

``page_list`` (the pages: files, labels, icons, URLs), ``layout`` (page header), ``sidebar`` (the sidebar that
``app.py`` draws once: projector toggle, classroom passphrase, workspace, running jobs), ``projector`` (tile
sizes in projector mode), ``access`` (the classroom gate for this session), ``feedback`` (one-line errors,
notices), ``resources`` (the workspace, cached models and configs), ``state`` (widgets that keep choices valid),
``controls`` (buttons that say why not, deleting), ``jobs`` (submitting and the live job panels), ``labels``
(page wording), ``training_record`` and ``explorers`` (the larger panels).
"""
