"""A study folder's results: one row per finished run, the Table 1 / Table 2 summary, and listings."""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..files.atomic import atomic_write_bytes, atomic_write_text
from ..files.bounded_json import read_json
from ..segmentation import METRIC_NAMES
from .config import RESULT_FILE, STUDY_FILE, StudyConfig
from .plan import plan_runs

@dataclass
class StudyResult:
    """A study folder as loaded: ``table`` (one row per finished run), ``summary`` (Table 1 / Table 2
    layout), ``pending`` (run ids of the config not finished yet)."""

    dir: Path
    config: StudyConfig
    table: pd.DataFrame
    summary: pd.DataFrame
    pending: list[str]

    @property
    def complete(self) -> bool:
        return not self.pending

    def figure(self, metric: str = "iou"):
        """The study's plotly figure (IoU vs R, or bars per training set)."""
        from ..analysis import figures

        if self.config.kind == "small-data":
            return figures.small_data_figure(self.table, metric)
        return figures.real_vs_synthetic_figure(self.summary, metric)


TABLE_COLUMNS = ["run_id", "kind", "train_set", "train_data", "variant", "fold", "R", "N", "seed", "n_train", "n_val",
                 *METRIC_NAMES, "best_epoch", "epochs", "encoder", "image_size", "train_seconds", "finished_at"]


def summarize_table(kind: str, table: pd.DataFrame) -> pd.DataFrame:
    """Small-data: one row per (R, train_data, variant) with ``n_train`` and the metrics (the mean and, when a
    run was repeated with several seeds, ``runs`` and ``<metric>_std``); real-vs-synthetic: mean and std over
    folds (and seeds) per (train_set, variant) with the number of folds done."""
    if table.empty:
        return pd.DataFrame()
    if kind == "small-data":
        keys = ["R", "train_data", "variant"]
        g = table.groupby(keys, sort=True)
        out = g.agg(n_train=("n_train", "first"), runs=("run_id", "count"),
                    **{m: (m, "mean") for m in METRIC_NAMES}).reset_index()
        if out["runs"].max() > 1:
            std = g.agg(**{f"{m}_std": (m, "std") for m in METRIC_NAMES}).reset_index(drop=True)
            out = pd.concat([out, std], axis=1)
        else:
            out = out.drop(columns="runs")
        return out.sort_values(keys).reset_index(drop=True)
    agg = {f"{m}_{s}": (m, s) for m in METRIC_NAMES for s in ("mean", "std")}
    out = table.groupby(["train_set", "variant"], sort=False).agg(
        folds=("fold", "nunique"), runs=("run_id", "count"), **agg).reset_index()
    out["_order"] = out["train_set"].map(lambda s: -1 if s == "REAL" else int(s.split("-")[1]))
    return out.sort_values(["_order", "variant"]).drop(columns="_order").reset_index(drop=True)


def read_study(kind: str, table: pd.DataFrame, metric: str = "iou") -> str:
    """One sentence that reads a study's finished runs for a student: small-data, how much adding synthetic data
    changed ``metric`` against real data alone (mean over the R values where both ran, and where it helped most);
    real-vs-synthetic, how the best synthetic-only training compares with real data (mean over folds and seeds)."""
    if table.empty:
        return "No run has finished yet."
    if kind == "small-data":
        means = table.groupby(["R", "train_data"])[metric].mean().unstack()
        if "real" not in means or not {"mixed", "synthetic"} & set(means.columns):
            return f"Only {', '.join(sorted(map(str, means.columns)))} runs have finished: nothing to compare yet."
        other = "mixed" if "mixed" in means else "synthetic"
        diff = (means[other] - means["real"]).dropna()
        if diff.empty:
            return "No R value has both its real and its synthetic runs finished yet."
        best = diff.idxmax()
        what = "adding synthetic images to" if other == "mixed" else "replacing"
        verdict = "helped" if diff.mean() > 0 else "did not help"
        return (f"On average over R = {', '.join(str(int(r)) for r in diff.index)}, {what} the real ones {verdict}: "
                f"{metric} {diff.mean():+.3f} against real images alone (the largest change {diff[best]:+.3f} at "
                f"R = {int(best)}); with few validation images, differences of a few hundredths are noise.")
    means = table.groupby(["train_set", "variant"])[metric].mean()
    real = means[means.index.get_level_values(0) == "REAL"]
    fake = means[means.index.get_level_values(0) != "REAL"]
    if real.empty or fake.empty:
        return "Real and synthetic runs have not both finished yet: nothing to compare."
    (best_set, best_variant), best = fake.idxmax(), float(fake.max())
    ref = float(real.mean())
    share = f" ({100 * best / ref:.0f} % of it)" if ref > 0 else ""
    return (f"Trained on synthetic data only, the best UNet++ ({best_set}, {best_variant}) reaches {metric} "
            f"{best:.3f} against {ref:.3f} on real data{share}: "
            + ("synthetic data can stand in for the real data here." if best >= ref - 0.02 else
               "synthetic data alone does not yet replace the real data."))


def seed_spread(table: pd.DataFrame, metric: str = "iou") -> pd.DataFrame:
    """How much ``metric`` moves when only the UNet++ seed changes: per run without its seed (same data, fold,
    R, N and variant) the number of seeds, mean, std, min and max. Empty when no run has several seeds."""
    cols = ["train_set", "train_data", "variant", "fold", "R", "N", "seeds", "mean", "std", "min", "max"]
    if table.empty or "seed" not in table:
        return pd.DataFrame(columns=cols)
    keys = ["train_set", "train_data", "variant", "fold", "R", "N"]
    g = table.dropna(subset=["seed"]).groupby(keys, sort=True, dropna=False)[metric]
    out = g.agg(seeds="count", mean="mean", std="std", min="min", max="max").reset_index()
    return out[out["seeds"] > 1].reset_index(drop=True)[cols]


def load_study(study_dir: str | os.PathLike) -> StudyResult:
    """Load a study folder (finished runs only; works while the study is still running)."""
    d = Path(study_dir)
    if not (d / STUDY_FILE).is_file():
        raise InputError(f"{d}: not a study folder (no {STUDY_FILE})")
    config = StudyConfig.from_dict(read_json(d / STUDY_FILE))
    rows = []
    for result in sorted((d / "runs").glob(f"*/{RESULT_FILE}")):
        rows.append(read_json(result))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS) if rows else pd.DataFrame(columns=TABLE_COLUMNS)
    try:
        folds = read_json(d / "folds.json")["folds"]
        expected = [r.run_id for r in plan_runs(config, folds)]
    except (OSError, KeyError, ValueError, InputError):
        expected = []
    done = set(table["run_id"])
    return StudyResult(d, config, table, summarize_table(config.kind, table), [r for r in expected if r not in done])


def list_studies(workspace: str | os.PathLike) -> pd.DataFrame:
    """Studies found in ``workspace`` (any depth up to 3): columns ``path, name, kind, runs_done,
    runs_pending, updated`` (UTC time of the newest finished run or of study.json)."""
    root = Path(workspace)
    rows = []
    if root.is_dir():
        candidates = [p for depth in ("*/", "*/*/", "*/*/*/") for p in root.glob(depth + STUDY_FILE)]
        if (root / STUDY_FILE).is_file():
            candidates.append(root / STUDY_FILE)
        for f in sorted(set(candidates)):
            try:
                res = load_study(f.parent)
            except (InputError, ValueError, TypeError, KeyError):
                continue
            mtimes = [p.stat().st_mtime for p in (f.parent / "runs").glob(f"*/{RESULT_FILE}")] + [f.stat().st_mtime]
            rows.append({"path": str(f.parent), "name": f.parent.name, "kind": res.config.kind,
                         "runs_done": len(res.table), "runs_pending": len(res.pending),
                         "updated": datetime.fromtimestamp(max(mtimes), timezone.utc)})
    return pd.DataFrame(rows, columns=["path", "name", "kind", "runs_done", "runs_pending", "updated"])


def write_results(study_dir: str | os.PathLike) -> StudyResult:
    """Rebuild ``results.csv``/``results.parquet``/``summary.csv`` and ``figure.html`` from the finished runs."""
    from ..analysis import figures

    res = load_study(study_dir)
    d = res.dir
    atomic_write_text(d / "results.csv", res.table.to_csv(index=False))
    atomic_write_text(d / "summary.csv", res.summary.to_csv(index=False))
    buf = io.BytesIO()
    res.table.to_parquet(buf, index=False)
    atomic_write_bytes(d / "results.parquet", buf.getvalue())
    if not res.table.empty:
        figures.write_html(res.figure(), d / "figure.html")
    return res
