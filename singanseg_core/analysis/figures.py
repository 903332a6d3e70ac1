"""Plotly figure builders for mask statistics, segmentation training and the two studies.

Plotly is imported inside the functions so that importing the core stays light. Every builder
returns a ``plotly.graph_objects.Figure``; the dashboard shows it, the CLI writes it with
:func:`write_html` (offline: ``plotly.min.js`` is written next to the HTML file once).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..files.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from .stats import MaskStats

SOURCE_COLORS = {"real": "#1f77b4", "synthetic": "#ff7f0e", "mixed": "#2ca02c"}


def write_html(fig: "go.Figure", path: str | os.PathLike) -> Path:
    """Write ``fig`` as HTML referencing ``plotly.min.js`` in the same folder (written if missing)."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    js = path.parent / "plotly.min.js"
    if not js.exists():
        atomic_write_text(js, get_plotlyjs())
    return atomic_write_text(path, pio.to_html(fig, include_plotlyjs="directory", full_html=True))


# --------------------------------------------------------------------------------------------
# Log axes

MAX_LOG_TICKS = 8   # labelled ticks on a log axis at most (more overlap at a projector's font size)


def log_axis(values: "list[float] | np.ndarray") -> dict:
    """Readable ticks for a log axis over ``values``: labels only at 1·10^k (spans of 3+ decades), 1 and 3
    (2 decades) or 1, 2 and 5 (less), at most :data:`MAX_LOG_TICKS`, minor tick labels off, and a range from
    the ladder value below the smallest value to the one above the largest (so at least two labels show).
    Plotly's own log ticks label every digit ("6 5 4 3 2 1 8 6 5") and overlap. Returns ``update_yaxes``
    keyword arguments (``{"type": "log"}`` alone without a positive finite value)."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return {"type": "log"}
    lo, hi = float(v.min()), float(v.max())
    e0, e1 = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    span = e1 - e0
    mantissas = (1.0,) if span >= 3 else (1.0, 3.0) if span == 2 else (1.0, 2.0, 5.0)
    ladder = [float(f"{m * 10.0 ** e:.3g}") for e in range(e0 - 1, e1 + 2) for m in mantissas]
    below = max(t for t in ladder if t <= lo * (1 + 1e-9))
    above = min(t for t in ladder if t >= hi * (1 - 1e-9))
    if above <= below:  # one value on the ladder: one step up
        above = ladder[ladder.index(below) + 1]
    ticks = [t for t in ladder if below <= t <= above]
    step = -(-len(ticks) // MAX_LOG_TICKS)  # ceil: keep every step-th tick
    ticks = ticks[::step]
    return {"type": "log", "tickmode": "array", "tickvals": ticks, "ticktext": [f"{t:.3g}" for t in ticks],
            "range": [float(np.log10(below)), float(np.log10(above))], "minor": {"showgrid": False, "ticks": ""}}


# --------------------------------------------------------------------------------------------
# Mask statistics


HISTOGRAM_LAYOUTS = ("grouped", "overlay", "side by side")
# Legend to the right of the plot area, top-aligned: never on an axis title or the figure title.
LEGEND_RIGHT = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top"}


def true_pixel_histogram(stats: "MaskStats", layout: str = "grouped") -> "go.Figure":
    """Figures 3/6/10: histogram of true-pixel percentages (y = % of masks per bin), one bar series per source
    (real / synthetic), with the distance between them in the title.

    ``layout``: ``"grouped"`` (bars next to each other per bin), ``"overlay"`` (translucent bars on top of each
    other) or ``"side by side"`` (one panel per source, shared y axis).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if layout not in HISTOGRAM_LAYOUTS:
        raise ValueError(f"layout must be one of {HISTOGRAM_LAYOUTS}, got {layout!r}")
    groups = list(stats.histograms.groupby("source", sort=False))
    counts = {str(src): int(h["count"].sum()) for src, h in groups}
    if layout == "side by side":
        fig = make_subplots(rows=1, cols=max(len(groups), 1), shared_yaxes=True,
                            subplot_titles=[f"{src} (n={counts[str(src)]})" for src, _ in groups])
    else:
        fig = go.Figure()
    width = float(stats.bin_width) * (0.9 / max(len(groups), 1) if layout == "grouped" else 0.95)
    for i, (source, h) in enumerate(groups):
        bar = go.Bar(x=(h["bin_start"] + h["bin_end"]) / 2, y=h["fraction"] * 100, width=width,
                     name=f"{source} (n={counts[str(source)]})", marker_color=SOURCE_COLORS.get(str(source)),
                     opacity=0.6 if layout == "overlay" else 1.0, customdata=h[["label", "count"]].to_numpy(),
                     hovertemplate="%{customdata[0]} %%: %{customdata[1]} masks (%{y:.1f} %%)<extra></extra>")
        if layout == "side by side":
            fig.add_trace(bar, row=1, col=i + 1)
        else:
            fig.add_trace(bar)
    title = f"True-pixel percentage of masks ({stats.bin_width:g} % bins)"
    if stats.distance:
        title += (
            f"<br><sup>Wasserstein-1 = {stats.distance['wasserstein']:.2f} pp, "
            f"KS = {stats.distance['ks_statistic']:.3f} (p = {stats.distance['ks_pvalue']:.3g})</sup>"
        )
    fig.update_xaxes(title_text="true pixels (% of mask area)", range=[0, 100])
    fig.update_yaxes(title_text="masks (%)", **({"row": 1, "col": 1} if layout == "side by side" else {}))
    fig.update_layout(title=title, barmode="overlay" if layout == "overlay" else "group", legend=LEGEND_RIGHT,
                      template="plotly_white", height=420, margin={"t": 90})
    return fig


def mask_mean_std_figure(mean: np.ndarray, std: np.ndarray, title: str = "") -> "go.Figure":
    """Figure 5: pixel-wise mean (0..1) and standard deviation (0..0.5) of one checkpoint's masks."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    fig = make_subplots(rows=1, cols=2, subplot_titles=("mean", "standard deviation"))
    fig.add_trace(go.Heatmap(z=mean, zmin=0, zmax=1, colorscale="gray", showscale=False), 1, 1)
    fig.add_trace(go.Heatmap(z=std, zmin=0, zmax=0.5, colorscale="viridis", colorbar={"x": 1.02}), 1, 2)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, row=1, col=1)
    fig.update_yaxes(autorange="reversed", scaleanchor="x2", showticklabels=False, row=1, col=2)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(title=title or "Generated masks: pixel-wise mean and std", template="plotly_white")
    return fig


# --------------------------------------------------------------------------------------------
# Segmentation training


def training_history_figure(history: pd.DataFrame) -> "go.Figure":
    """Per-epoch curves of a segmentation run: train dice loss and validation IoU / F-score."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("dice loss", "validation metrics"))
    if "train_dice_loss" in history:
        fig.add_scatter(x=history["epoch"], y=history["train_dice_loss"], name="train dice loss", row=1, col=1)
    if "val_dice_loss" in history:
        fig.add_scatter(x=history["epoch"], y=history["val_dice_loss"], name="val dice loss", row=1, col=1)
    for col in ("val_iou", "val_fscore"):
        if col in history:
            fig.add_scatter(x=history["epoch"], y=history[col], name=col.replace("_", " "), row=1, col=2)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(template="plotly_white")
    return fig


# --------------------------------------------------------------------------------------------
# SinGAN-Seg training record

LOSS_LABELS = {"d_real": "D(real)", "d_fake": "D(fake)", "gp": "gradient penalty", "g_adv": "G adversarial",
               "rec": "reconstruction (x alpha)"}


def training_log_figure(log: dict) -> "go.Figure":
    """The losses of a SinGAN-Seg training record (``SinGANSeg.training_log()`` / ``read_training_log``), scale
    after scale on one axis of iterations: the adversarial terms on top, the reconstruction loss (log scale)
    below; each scale's span is labelled "scale k of n" with its size and time. Works on a log of a run still
    training (the live plot, whose x axis already spans every scale) as on a finished one."""
    from plotly.subplots import make_subplots

    from ..model.training_log import LOSS_KEYS, scale_label

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.6, 0.4])
    niter, n = int(log.get("niter") or 1), int(log.get("num_scales") or 0)
    colors = dict(zip(LOSS_KEYS, ("#1f77b4", "#ff7f0e", "#7f7f7f", "#2ca02c", "#d62728")))
    for i, entry in enumerate(log.get("scales") or []):
        k = int(entry["scale"])
        x = [k * niter + it for it in entry.get("iterations", [])]
        for key in LOSS_KEYS:
            fig.add_scatter(x=x, y=entry.get("losses", {}).get(key, []), mode="lines", name=LOSS_LABELS[key],
                            legendgroup=key, showlegend=i == 0, line={"color": colors[key], "width": 1.5},
                            row=2 if key == "rec" else 1, col=1,
                            hovertemplate=f"{scale_label(k, n)}, iteration %{{customdata}}: %{{y:.4g}}"
                                          "<extra>" + LOSS_LABELS[key] + "</extra>",
                            customdata=entry.get("iterations", []))
        h, w = entry.get("size", [0, 0])
        secs = float(entry.get("seconds") or 0.0)
        label = f"{scale_label(k, n)}<br>{w}x{h} px, {secs:.0f} s" + ("" if entry.get("done") else " so far")
        fig.add_vrect(x0=k * niter, x1=(k + 1) * niter, fillcolor="#000000" if k % 2 else "#ffffff",
                      opacity=0.04, line_width=0, row="all", col=1)
        fig.add_annotation(x=(k + 0.5) * niter, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                           text=label, font={"size": 10})
    eta = log.get("eta_s")
    state = log.get("state", "")
    status = ("finished" if state == "finished" else
              f"training {scale_label(int(log.get('scale', 0)), n)}"
              + (f", about {float(eta) / 60:.0f} min left" if eta else ""))
    fig.update_yaxes(title_text="adversarial (WGAN-GP)", row=1, col=1)
    rec = [y for entry in log.get("scales") or [] for y in (entry.get("losses") or {}).get("rec", [])]
    fig.update_yaxes(title_text="reconstruction", row=2, col=1, **log_axis(rec))
    fig.update_xaxes(range=[0, max(n, 1) * niter])
    fig.update_xaxes(title_text=f"iteration ({niter} per scale)", row=2, col=1)
    fig.update_layout(title=f"Training losses of {log.get('name', 'the model')} ({status})", template="plotly_white",
                      margin={"t": 110}, legend={"orientation": "h", "y": -0.15})
    return fig


def style_loss_figure(history: list[dict], title: str = "") -> "go.Figure":
    """Content and style loss curves of a style-transfer run (``StylePreview.history`` or a result's
    ``history``: ``[{"step", "content", "style", "total"}, ...]``), on a log axis, one line each."""
    import plotly.graph_objects as go

    fig = go.Figure()
    steps = [int(h["step"]) for h in history]
    for key, color in (("content", "#1f77b4"), ("style", "#d62728")):
        fig.add_scatter(x=steps, y=[float(h[key]) for h in history], mode="lines+markers", name=f"{key} loss",
                        line={"color": color}, hovertemplate=f"step %{{x}}: {key} %{{y:.4g}}<extra></extra>")
    fig.update_xaxes(title_text="optimiser step")
    fig.update_yaxes(title_text="loss (unweighted, summed over images)",
                     **log_axis([float(h[key]) for h in history for key in ("content", "style")]))
    fig.update_layout(title=title or "Style transfer: content and style losses", template="plotly_white",
                      legend=LEGEND_RIGHT, height=340, margin={"t": 60})
    return fig


# --------------------------------------------------------------------------------------------
# Studies


def _series_label(row: pd.Series) -> str:
    if row["train_data"] == "real":
        return "real"
    return f"{row['train_data']} ({row['variant']})"


def small_data_figure(table: pd.DataFrame, metric: str = "iou") -> "go.Figure":
    """Table 2 as a line chart: ``metric`` vs number of real images R, one line per training set.

    Repeated runs (several seeds) are drawn as their mean with a ±1 std error bar. Ticks sit only at the R
    values of the study, and the series are shifted sideways a little around each R so that equal scores
    do not hide each other's markers (the hover text gives the exact R).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    r_values: list[int] = []
    if not table.empty:
        t = table.assign(series=table.apply(_series_label, axis=1))
        agg = t.groupby(["series", "R"], sort=True).agg(
            mean=(metric, "mean"), std=(metric, "std"), runs=(metric, "count"), n_train=("n_train", "first"),
        ).reset_index()
        r_values = sorted(int(r) for r in agg["R"].unique())
        gaps = np.diff(r_values)
        step = float(gaps.min()) if len(gaps) else 1.0
        names = sorted(agg["series"].unique())
        for i, series in enumerate(names):
            df = agg[agg["series"] == series]
            offset = (i - (len(names) - 1) / 2) * 0.08 * step
            several = bool((df["runs"] > 1).any())
            fig.add_scatter(
                x=[float(r) + offset for r in df["R"]],
                y=df["mean"].tolist(),
                mode="lines+markers",
                name=series,
                marker={"size": 9},
                error_y={"type": "data", "array": df["std"].fillna(0).tolist(), "visible": several},
                customdata=df[["R", "n_train", "runs"]].to_numpy(),
                hovertemplate="R=%{customdata[0]}, %{customdata[1]} training pairs, %{customdata[2]} run(s): "
                + metric + "=%{y:.4f}<extra></extra>",
            )
    fig.update_layout(
        title=f"Small-data study: validation {metric} vs number of real images",
        xaxis={"title": "R (real images of fold one)", "tickmode": "array", "tickvals": r_values,
               "ticktext": [str(r) for r in r_values]},
        yaxis={"title": f"{metric} (folds two and three)", "range": [0, 1.02]},  # every metric lies in 0..1
        legend=LEGEND_RIGHT,
        template="plotly_white",
    )
    if len(r_values) == 1:
        fig.update_xaxes(range=[r_values[0] - 1, r_values[0] + 1])
    return fig


def real_vs_synthetic_figure(summary: pd.DataFrame, metric: str = "iou") -> "go.Figure":
    """Table 1 as a bar chart: mean ``metric`` over folds (error bar = std) per training set.

    ``summary`` is :attr:`StudyResult.summary` of a real-vs-synthetic study
    (columns ``train_set, variant, <metric>_mean, <metric>_std``).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    if not summary.empty:
        for variant, df in summary.groupby("variant", sort=False):
            fig.add_bar(
                x=df["train_set"],
                y=df[f"{metric}_mean"],
                error_y={"type": "data", "array": df[f"{metric}_std"].fillna(0)},
                name=str(variant) or "real",
            )
    fig.update_layout(
        title=f"Real vs synthetic: validation {metric} (mean over folds)",
        barmode="group",
        xaxis_title="training data",
        yaxis_title=metric,
        template="plotly_white",
    )
    return fig
