"""mlp_depth: parameters, train/test accuracy and generalisation gap of deeper and wider MLPs; a CNN reference."""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.plots import line_with_ci, new_figure
from convstudies.stats import select, t_interval
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


def _per_seed(table, point, **conds) -> pd.Series:
    return select(table, point=point, status="ok", **conds).set_index("seed")["value"]


def _mean(summary, point, **conds) -> float:
    rows = select(summary, point=point, **conds)
    if len(rows) != 1:
        raise ValueError(f"expected one summary row for point {point!r} {conds}, found {len(rows)}")
    return float(rows["mean"].iloc[0])


def mlp_points(summary: pd.DataFrame) -> list[str]:
    return sorted(p for p in summary["point"].unique() if p != CNN)


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    params = {p: _mean(summary, p, condition="final", metric="params") for p in summary["point"].unique()}
    growth = params[DEEP] / params[SHALLOW]
    gap_deep = _per_seed(table, DEEP, condition="gap")
    gap_diff = (gap_deep - _per_seed(table, SHALLOW, condition="gap")).dropna()
    mlps = mlp_points(summary)
    test = {p: _mean(summary, p, condition="test", metric="accuracy") for p in mlps}
    best = max(test, key=test.get)
    margin = (_per_seed(table, CNN, condition="test", metric="accuracy")
              - _per_seed(table, best, condition="test", metric="accuracy")).dropna()
    smallest = min(mlps, key=params.get)
    fraction = params[CNN] / params[smallest]
    checks = [
        Check("parameters: 8 / 1 hidden layers (width 256)", growth, growth, growth,
              thresholds["param_growth_min"], ">=", "every hidden layer adds width^2 + width weights"),
        Check("generalisation gap of the 8-layer MLP", *t_interval(gap_deep.to_numpy()), thresholds["gap_min"], ">=",
              "train accuracy - test accuracy"),
        Check("gap increase from 1 to 8 hidden layers", *t_interval(gap_diff.to_numpy()),
              thresholds["depth_gap_increase_min"], ">=", "depth adds overfitting"),
        Check(f"CNN test accuracy - best MLP ({best})", *t_interval(margin.to_numpy()),
              thresholds["cnn_margin_min"], ">=", "the CNN generalises at least as well"),
        Check(f"CNN parameters / smallest MLP ({smallest})", fraction, fraction, fraction,
              thresholds["cnn_param_fraction_max"], "<=", "with far fewer parameters"),
    ]
    result = decide(checks)
    gaps = {p: _mean(summary, p, condition="gap") for p in mlps + [CNN]}
    depth_pts = sorted((p for p in mlps if p.startswith("depth-")), key=lambda p: params[p])
    width_pts = sorted((p for p in mlps if p.startswith("width-")), key=lambda p: params[p])
    trend = ", ".join(f"{_label(summary, p)}: {gaps[p]:.3f}" for p in depth_pts)
    wtrend = ", ".join(f"{_label(summary, p)}: {gaps[p]:.3f}" for p in width_pts)
    diff = result["evidence"][2]
    note = [f"Generalisation gaps (train - test accuracy) by depth: {trend}; by width at depth 2: {wtrend}; "
            f"CNN: {gaps[CNN]:.3f} with {params[CNN]:,.0f} parameters against {params[SHALLOW]:,.0f}-"
            f"{params[DEEP]:,.0f} for the depth sweep."]
    twin = min(width_pts, key=lambda p: abs(params[p] - params[DEEP]), default=None)
    if twin is not None and abs(params[twin] / params[DEEP] - 1) < 0.05:
        d, lo, hi = t_interval((gap_deep - _per_seed(table, twin, condition="gap")).dropna().to_numpy())
        what = ("so at this scale the extra overfitting comes with depth, not with the parameter count alone"
                if lo > 0 else "so depth adds no overfitting beyond what the parameter count brings"
                if hi < 0 or (lo <= 0 <= hi and abs(d) < 0.01) else "which does not separate depth from size")
        note.append(f"Same parameters without the depth: the {_label(summary, twin)} MLP ({params[twin]:,.0f} "
                    f"parameters) has a gap of {gaps[twin]:.3f} against {gaps[DEEP]:.3f} for 8x256 "
                    f"({params[DEEP]:,.0f}); difference {d:.3f} [{lo:.3f}, {hi:.3f}], {what}.")
    if diff["outcome"] == "fail":
        note.append("Deeper MLPs do not overfit more at this scale: every MLP fits its training digits, and the "
                    "extra hidden layers add parameters without widening the gap by the pre-registered margin.")
    elif diff["outcome"] == "inconclusive":
        note.append("Whether depth adds overfitting is not decided at this scale: the CI of the gap increase "
                    "straddles the threshold; more seeds or the full scale would decide.")
    result["note"] = " ".join(note)
    return result


def _label(summary, point) -> str:
    row = select(summary, point=point).iloc[0]
    if point == CNN:
        return "CNN"
    return f"{int(row['depth'])}x{int(row['width'])}"


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    points = mlp_points(summary) + [CNN]
    for p in points:
        rows.append({
            "model": "CNN (8@5x5, 16@3x3)" if p == CNN else f"MLP {_label(summary, p)} (hidden layers x units)",
            "parameters": int(_mean(summary, p, condition="final", metric="params")),
            "train accuracy": _mean(summary, p, condition="train", metric="accuracy"),
            "test accuracy": _mean(summary, p, condition="test", metric="accuracy"),
            "gap": _mean(summary, p, condition="gap"),
        })
    out = pd.DataFrame(rows)
    order = [p != CNN for p in points]
    return out.assign(_mlp=order).sort_values(["_mlp", "parameters"], ascending=[False, True]).drop(columns="_mlp")


def _with_params(summary, points, **conds) -> pd.DataFrame:
    rows = select(summary, point=points, **conds)
    params = select(summary, point=points, condition="final", metric="params")[["point", "mean"]]
    return rows.merge(params.rename(columns={"mean": "parameters"}), on="point")


def gap_vs_depth(table: pd.DataFrame, summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    depth_pts = [p for p in mlp_points(summary) if p.startswith("depth-")]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    acc = select(summary, point=depth_pts, metric="accuracy", condition=["train", "test"]).copy()
    acc["accuracy on"] = acc["condition"].map({"train": "MLP, training digits", "test": "MLP, test digits"})
    line_with_ci(acc, "depth", "accuracy on", ax1)
    cnn_test = select(summary, point=CNN, condition="test", metric="accuracy").iloc[0]
    ax1.axhline(cnn_test["mean"], ls="--", color="0.3", label="CNN, test digits")
    ax1.axhspan(cnn_test["ci_low"], cnn_test["ci_high"], color="0.3", alpha=0.15, lw=0)
    ax1.legend(fontsize=8)
    ax1.set(xlabel="hidden layers (256 units each)", ylabel="accuracy", xscale="log")
    gap = select(summary, point=depth_pts, condition="gap").assign(model="MLP")
    line_with_ci(gap, "depth", "model", ax2)
    cnn_gap = select(summary, point=CNN, condition="gap").iloc[0]
    ax2.axhline(cnn_gap["mean"], ls="--", color="0.3", label="CNN")
    ax2.axhspan(cnn_gap["ci_low"], cnn_gap["ci_high"], color="0.3", alpha=0.15, lw=0)
    ax2.legend(fontsize=8)
    ax2.set(xlabel="hidden layers (256 units each)", ylabel="generalisation gap (train - test accuracy)",
            xscale="log", ylim=(0, None))
    for ax in (ax1, ax2):
        ax.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
        ax.minorticks_off()
    fig.tight_layout()
    return fig


def accuracy_vs_params(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure(6, 3.8)
    mlps = mlp_points(summary)
    depth2 = [p for p in mlps if p == "depth-depth2"]
    curves = [("MLP, 1-8 hidden layers (numbers) of 256", [p for p in mlps if p.startswith("depth-")]),
              ("MLP, 2 hidden layers of 64-512", [p for p in mlps if p.startswith("width-")] + depth2)]
    parts = [_with_params(summary, pts, condition="test", metric="accuracy").assign(series=name)
             for name, pts in curves if pts]
    data = pd.concat(parts, ignore_index=True)
    line_with_ci(data, "parameters", "series", ax)
    for _, r in data.iterrows():  # label each point with its depth (blue) or width (orange)
        depth_series = r["series"].startswith("MLP, 1-8")
        if depth_series or r["point"] != "depth-depth2":
            text = f"{int(r['depth'])}" if depth_series else f"{int(r['width'])} units"
            ax.annotate(text, (r["parameters"], r["mean"]),
                        textcoords="offset points", xytext=(0, 6 if depth_series else -12), ha="center",
                        fontsize=7, color="C0" if depth_series else "C1")
    cnn = _with_params(summary, [CNN], condition="test", metric="accuracy").iloc[0]
    ax.errorbar([cnn["parameters"]], [cnn["mean"]],
                yerr=[[cnn["mean"] - cnn["ci_low"]], [cnn["ci_high"] - cnn["mean"]]],
                fmt="*", ms=12, color="C3", capsize=3, label="small CNN")
    ax.legend(fontsize=8, loc="lower left")
    ax.set(xscale="log", xlabel="parameters", ylabel="test accuracy")
    lo = np.nanmin([data["ci_low"].min(), cnn["ci_low"]])
    ax.set_ylim(max(0.0, lo - 0.03), min(1.0, max(data["ci_high"].max(), cnn["ci_high"]) + 0.02))
    return fig
