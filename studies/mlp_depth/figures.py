"""mlp_depth figures: one function per figure of study.yaml, ``fn(table, summary) -> Figure``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from convstudies.plots import line_with_ci, new_figure
from convstudies.stats import select

from .analysis import CNN, mlp_points, with_params


def _cnn_reference(ax, row, label):
    ax.axhline(row["mean"], ls="--", color="0.3", label=label)
    ax.axhspan(row["ci_low"], row["ci_high"], color="0.3", alpha=0.15, lw=0)
    ax.legend(fontsize=8)


def gap_vs_depth(table: pd.DataFrame, summary: pd.DataFrame):
    depth_pts = [p for p in mlp_points(summary) if p.startswith("depth-")]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    acc = select(summary, point=depth_pts, metric="accuracy", condition=["train", "test"]).copy()
    acc["accuracy on"] = acc["condition"].map({"train": "MLP, training digits", "test": "MLP, test digits"})
    line_with_ci(acc, "depth", "accuracy on", ax1)
    _cnn_reference(ax1, select(summary, point=CNN, condition="test", metric="accuracy").iloc[0], "CNN, test digits")
    ax1.set(xlabel="hidden layers (256 units each)", ylabel="accuracy", xscale="log")
    gap = select(summary, point=depth_pts, condition="gap").assign(model="MLP")
    line_with_ci(gap, "depth", "model", ax2)
    _cnn_reference(ax2, select(summary, point=CNN, condition="gap").iloc[0], "CNN")
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
    parts = [with_params(summary, pts, condition="test", metric="accuracy").assign(series=name)
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
    cnn = with_params(summary, [CNN], condition="test", metric="accuracy").iloc[0]
    ax.errorbar([cnn["parameters"]], [cnn["mean"]],
                yerr=[[cnn["mean"] - cnn["ci_low"]], [cnn["ci_high"] - cnn["mean"]]],
                fmt="*", ms=12, color="C3", capsize=3, label="small CNN")
    ax.legend(fontsize=8, loc="lower left")
    ax.set(xscale="log", xlabel="parameters", ylabel="test accuracy")
    lo = np.nanmin([data["ci_low"].min(), cnn["ci_low"]])
    ax.set_ylim(max(0.0, lo - 0.03), min(1.0, max(data["ci_high"].max(), cnn["ci_high"]) + 0.02))
    return fig


def learning_curves(table: pd.DataFrame, summary: pd.DataFrame):
    """Training and validation accuracy after every epoch, one panel per depth (width 256) and the CNN."""
    points = sorted((p for p in mlp_points(summary) if p.startswith("depth-")), key=lambda p: int(p[len("depth-depth"):]))
    points.append(CNN)
    fig, axes = plt.subplots(1, len(points), figsize=(2.6 * len(points), 3.2), sharey=True, squeeze=False)
    names = {"train_acc": "training digits", "val_acc": "validation digits"}
    for ax, p in zip(axes[0], points):
        rows = select(summary, point=p, condition="epoch", metric=list(names)).copy()
        rows["epoch"] = rows["epoch"] + 1
        rows["accuracy on"] = rows["metric"].map(names)
        line_with_ci(rows, "epoch", "accuracy on", ax, marker="")
        best = select(summary, point=p, condition="curve", metric="best_val_epoch")
        if not best.empty:
            ax.axvline(best["mean"].iloc[0], ls=":", color="0.4", lw=1)
        title = "CNN" if p == CNN else f"MLP, {p[len('depth-depth'):]} x 256"
        ax.set(title=title, xlabel="epoch", ylabel="accuracy")
        legend = ax.get_legend()
        if legend is not None and ax is not axes[0][0]:
            legend.remove()
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
