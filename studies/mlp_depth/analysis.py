"""mlp_depth: parameters, train/test accuracy and generalisation gap of deeper and wider MLPs; a CNN reference.

Pandas only: the gap rows, the verdict and the key table.
"""
from __future__ import annotations

import pandas as pd

from convstudies.stats import one_row, paired, per_seed, select, t_interval
from convstudies.verdicts import Check, decide

SHALLOW, DEEP = "depth-depth1", "depth-depth8"
CNN = "cnn"


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add one row per run: the generalisation gap, accuracy on the training digits minus test accuracy."""
    acc = select(table, metric="accuracy", condition=["train", "test"], status="ok")
    if acc.empty:
        return table
    wide = acc.pivot_table(index=["point", "run"], columns="condition", values="value", aggfunc="first")
    if not {"train", "test"} <= set(wide.columns):
        return table
    gap = (wide["train"] - wide["test"]).rename("value").reset_index()
    base = select(table, condition="final", metric="params").drop(columns=["condition", "metric", "value"])
    gap = base.merge(gap, on=["point", "run"]).assign(condition="gap", metric="accuracy_gap")
    return pd.concat([table, gap], ignore_index=True)


def _mean(summary, point, **conds) -> float:
    return float(one_row(summary, point=point, **conds)["mean"])


def mlp_points(summary: pd.DataFrame) -> list[str]:
    return sorted(p for p in summary["point"].unique() if p != CNN)


def label(summary: pd.DataFrame, point: str) -> str:
    """``CNN`` or ``<depth>x<width>`` (hidden layers x units) of an MLP point."""
    row = select(summary, point=point).iloc[0]
    if point == CNN:
        return "CNN"
    return f"{int(row['depth'])}x{int(row['width'])}"


def _twin_note(table, summary, params, gaps, width_pts) -> str | None:
    """The width-sweep MLP with (within 5 %) the 8-layer MLP's parameters, and their gap difference."""
    twin = min(width_pts, key=lambda p: abs(params[p] - params[DEEP]), default=None)
    if twin is None or abs(params[twin] / params[DEEP] - 1) >= 0.05:
        return None
    d, lo, hi = paired(table, DEEP, twin, condition="gap", status="ok")
    what = ("so at this scale the extra overfitting comes with depth, not with the parameter count alone"
            if lo > 0 else "so depth adds no overfitting beyond what the parameter count brings"
            if hi < 0 or (lo <= 0 <= hi and abs(d) < 0.01) else "which does not separate depth from size")
    return (f"Same parameters without the depth: the {label(summary, twin)} MLP ({params[twin]:,.0f} "
            f"parameters) has a gap of {gaps[twin]:.3f} against {gaps[DEEP]:.3f} for 8x256 "
            f"({params[DEEP]:,.0f}); difference {d:.3f} [{lo:.3f}, {hi:.3f}], {what}.")


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    params = {p: _mean(summary, p, condition="final", metric="params") for p in summary["point"].unique()}
    growth = params[DEEP] / params[SHALLOW]
    gap_deep = per_seed(table, point=DEEP, status="ok", condition="gap")
    mlps = mlp_points(summary)
    test = {p: _mean(summary, p, condition="test", metric="accuracy") for p in mlps}
    best = max(test, key=test.get)
    smallest = min(mlps, key=params.get)
    fraction = params[CNN] / params[smallest]
    checks = [
        Check("parameters: 8 / 1 hidden layers (width 256)", growth, growth, growth,
              thresholds["param_growth_min"], ">=", "every hidden layer adds width^2 + width weights"),
        Check("generalisation gap of the 8-layer MLP", *t_interval(gap_deep.to_numpy()), thresholds["gap_min"], ">=",
              "train accuracy - test accuracy"),
        Check("gap increase from 1 to 8 hidden layers", *paired(table, DEEP, SHALLOW, condition="gap", status="ok"),
              thresholds["depth_gap_increase_min"], ">=", "depth adds overfitting"),
        Check(f"CNN test accuracy - best MLP ({best})",
              *paired(table, CNN, best, condition="test", metric="accuracy", status="ok"),
              thresholds["cnn_margin_min"], ">=", "the CNN generalises at least as well"),
        Check(f"CNN parameters / smallest MLP ({smallest})", fraction, fraction, fraction,
              thresholds["cnn_param_fraction_max"], "<=", "with far fewer parameters"),
    ]
    result = decide(checks)
    gaps = {p: _mean(summary, p, condition="gap") for p in mlps + [CNN]}
    depth_pts = sorted((p for p in mlps if p.startswith("depth-")), key=lambda p: params[p])
    width_pts = sorted((p for p in mlps if p.startswith("width-")), key=lambda p: params[p])
    trend = ", ".join(f"{label(summary, p)}: {gaps[p]:.3f}" for p in depth_pts)
    wtrend = ", ".join(f"{label(summary, p)}: {gaps[p]:.3f}" for p in width_pts)
    diff = result["evidence"][2]
    note = [f"Generalisation gaps (train - test accuracy) by depth: {trend}; by width at depth 2: {wtrend}; "
            f"CNN: {gaps[CNN]:.3f} with {params[CNN]:,.0f} parameters against {params[SHALLOW]:,.0f}-"
            f"{params[DEEP]:,.0f} for the depth sweep."]
    twin = _twin_note(table, summary, params, gaps, width_pts)
    if twin:
        note.append(twin)
    if diff["outcome"] == "fail":
        note.append("Deeper MLPs do not overfit more at this scale: every MLP fits its training digits, and the "
                    "extra hidden layers add parameters without widening the gap by the pre-registered margin.")
    elif diff["outcome"] == "inconclusive":
        note.append("Whether depth adds overfitting is not decided at this scale: the CI of the gap increase "
                    "straddles the threshold; more seeds or the full scale would decide.")
    result["note"] = " ".join(note)
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    points = mlp_points(summary) + [CNN]
    for p in points:
        rows.append({
            "model": "CNN (8@5x5, 16@3x3)" if p == CNN else f"MLP {label(summary, p)} (hidden layers x units)",
            "parameters": int(_mean(summary, p, condition="final", metric="params")),
            "train accuracy": _mean(summary, p, condition="train", metric="accuracy"),
            "test accuracy": _mean(summary, p, condition="test", metric="accuracy"),
            "gap": _mean(summary, p, condition="gap"),
        })
    out = pd.DataFrame(rows)
    order = [p != CNN for p in points]
    return out.assign(_mlp=order).sort_values(["_mlp", "parameters"], ascending=[False, True]).drop(columns="_mlp")


def with_params(summary: pd.DataFrame, points, **conds) -> pd.DataFrame:
    """Summary rows of ``points`` matching ``conds``, with the points' mean parameter count (``parameters``)."""
    rows = select(summary, point=points, **conds)
    params = select(summary, point=points, condition="final", metric="params")[["point", "mean"]]
    return rows.merge(params.rename(columns={"mean": "parameters"}), on="point")
