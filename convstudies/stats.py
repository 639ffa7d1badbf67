"""Tidy tables of runs, and their summary over seeds with 95 % confidence intervals."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

RUN_COLUMNS = ("run", "seed", "value", "status")


def run_rows(study: str, point: str, labels: dict, run: dict) -> list[dict]:
    """Tidy rows of one run directory: its evaluations plus final training metrics."""
    metrics = json.loads((Path(run["dir"]) / "metrics.json").read_text())
    base = {"study": study, "point": point, **labels, "run": run["run"], "seed": run["seed"],
            "status": metrics["status"]}
    rows = [{**base, **r} for r in metrics.get("evaluations", [])]
    final = {**metrics.get("final", {}), "params": metrics["params"], "n_train": metrics["n_train"],
             "train_images_per_s": metrics.get("train_images_per_s")}
    rows += [{**base, "condition": "final", "metric": k, "value": v} for k, v in final.items()]
    for ep in metrics.get("epochs", []):  # learning curves: one row per epoch and metric
        rows += [{**base, "condition": "epoch", "epoch": ep["epoch"], "metric": k, "value": v}
                 for k, v in ep.items() if k != "epoch"]
    if metrics["status"] != "ok":
        rows.append({**base, "condition": "final", "metric": "diverged", "value": 1.0})
    return rows


def collect(summaries: list[str | Path]) -> pd.DataFrame:
    """One row per run, seed, evaluation condition and metric, from job summary files."""
    rows = []
    for s in summaries:
        job = json.loads(Path(s).read_text())
        for run in job["runs"]:
            rows += run_rows(job["study"], run["point"], run["labels"], run)
    return pd.DataFrame(rows)


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval (NaN bounds for a single value)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, np.nan, np.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and 95 % CI over seeds for every point, condition and metric (diverged runs excluded)."""
    ok = table[table["status"] == "ok"]
    keys = [c for c in table.columns if c not in RUN_COLUMNS]
    out = []
    for key, g in ok.groupby(keys, dropna=False, sort=False):
        m, lo, hi = t_interval(g["value"].to_numpy())
        out.append({**dict(zip(keys, key)), "mean": m, "ci_low": lo, "ci_high": hi,
                    "sd": float(g["value"].std(ddof=1)) if len(g) > 1 else np.nan, "n": len(g)})
    summary = pd.DataFrame(out)
    n_div = table[table["status"] != "ok"].groupby("point")["run"].nunique()
    summary["n_diverged"] = summary["point"].map(n_div).fillna(0).astype(int)
    return summary


def select(df: pd.DataFrame, **conds) -> pd.DataFrame:
    """Rows where every column equals the given value (a list means 'is one of')."""
    mask = pd.Series(True, index=df.index)
    for k, v in conds.items():
        mask &= df[k].isin(v) if isinstance(v, (list, tuple)) else (df[k] == v)
    return df[mask]
