"""A checkpoint's training record (``model.training_log``), redrawn live while it trains."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from singanseg_core.analysis.tiles import upscale
from singanseg_core.services.workspace import Workspace
from ui.feedback import show_error
from ui.jobs import JOB_REFRESH_S
from ui.figures import metrics, show
from ui.projector import tile_side


def _duration(seconds: float | None) -> str:
    from singanseg_core.services.timings import duration

    return "—" if seconds is None else duration(seconds)


def draw_training_record(folder: Path, key: str) -> str | None:
    """Draw the training record of the checkpoint ``folder`` (``model.training_log``): where it is (scale,
    iteration), the time per iteration and the ETA, the losses per scale and the latest sample and
    reconstruction. Returns the record's state (``"training"`` / ``"finished"``) or ``None`` without one."""
    from singanseg_core.analysis.figures import training_log_figure
    from singanseg_core.files.images import open_bounded
    from singanseg_core.model.training_log import progress_images, read_training_log, scale_label

    log = read_training_log(folder)
    if log is None:
        st.caption("No training record: this checkpoint was imported or trained before records were kept.")
        return None
    n, state = int(log.get("num_scales") or 0), str(log.get("state", ""))
    s_per_it = log.get("s_per_it")
    finished = state == "finished"
    metrics([
        ("Scale", scale_label(int(log.get("scale", 0)), n) if not finished else f"all {n} done",
         "The scale being trained (1 = coarsest) or, afterwards, that all are done."),
        ("Iteration", f"{int(log.get('iteration', 0))} / {int(log.get('niter', 0))}",
         "Iterations of the current scale so far, of the iterations every scale gets."),
        ("Time per iteration", f"{float(s_per_it) * 1000:.0f} ms" if s_per_it else "—",
         "Wall time of one training iteration at the current (or last) scale."),
        ("Training time" if finished else "Time left (ETA)",
         _duration(log.get("seconds")) if finished else _duration(log.get("eta_s")),
         "Wall time of all scales together." if finished else
         "Estimated from the current rate and the sizes of the scales still to train (finer scales are slower)."),
    ], per_row=4)
    show(training_log_figure(log), key=f"{key}_losses")
    found = progress_images(folder)
    cols = st.columns(2)
    for col, (which, caption) in zip(cols, [("sample", "latest generated sample (image | mask)"),
                                            ("rec", "latest reconstruction of the training image (image | mask)")]):
        if which in found:
            col.image(upscale(open_bounded(found[which]).convert("RGB"), tile_side()), caption=caption,
                      width="stretch")
    return state


def training_record(folder: Path, key: str, live: bool = False) -> None:
    """:func:`draw_training_record` in a fragment that redraws itself every :data:`JOB_REFRESH_S` while
    ``live`` (the checkpoint is being trained), so the plot and pictures follow the job without a page reload."""

    @st.fragment(run_every=JOB_REFRESH_S if live else None)
    def record() -> None:
        try:
            draw_training_record(folder, key)
        except Exception as err:  # noqa: BLE001
            show_error(err)

    record()


def watch_training(ws: Workspace, key: str) -> None:
    """While a training job runs: its checkpoints' training records, redrawn every :data:`JOB_REFRESH_S` (a
    record that appears after the page was drawn shows up too)."""
    from singanseg_core.services import catalog

    active = any(job.kind == "train" for job in catalog.active_jobs(ws))

    @st.fragment(run_every=JOB_REFRESH_S if active else None)
    def watch() -> None:
        try:
            live = training_now(ws)
            if not live:
                if active:
                    st.caption(":material/hourglass_top: Training started: its losses, latest sample and ETA "
                               "appear here after its first iterations.")
                return
            st.subheader("Watch training")
            pick = st.selectbox("Checkpoint being trained", live, key=f"{key}_pick",
                                help="Its losses per scale, latest sample and reconstruction, time per iteration "
                                     "and ETA, redrawn every few seconds from its training record.")
            draw_training_record(ws.checkpoints / pick, key)
        except Exception as err:  # noqa: BLE001
            show_error(err)

    watch()


def training_now(ws: Workspace) -> list[str]:
    """Checkpoints that an active training job writes into and that already have a training record."""
    from singanseg_core.model.training_log import TRAINING_LOG_NAME
    from singanseg_core.services import catalog

    names = [ref.name for job in catalog.active_jobs(ws) if job.kind == "train"
             for ref in catalog.job_targets(job)["writes"]]
    return [n for n in dict.fromkeys(names) if (ws.checkpoints / n / TRAINING_LOG_NAME).is_file()]
