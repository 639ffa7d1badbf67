"""Figures any study can list in its study file without writing them (one function per figure).

A study's ``figures`` name functions of its own ``figures.py``; a name it does not define is
looked up here. Each takes the study's tidy table and summary and returns a matplotlib figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import pandas as pd

from .plots import line_with_ci

CURVE_METRICS = {"train_loss": "training loss", "train_acc": "training accuracy", "val_loss": "validation loss",
                 "val_acc": "validation accuracy"}


def training_curves(table: pd.DataFrame, summary: pd.DataFrame):
    """Per-epoch training loss and accuracy and validation accuracy of every grid point: mean over
    seeds with a 95 % band (epochs without validation have no validation point)."""
    curves = summary[summary["condition"] == "epoch"]
    metrics = [m for m in CURVE_METRICS if m in set(curves["metric"]) and m != "val_loss"]
    if curves.empty or not metrics:
        raise ValueError("training_curves: the summary has no per-epoch rows (condition 'epoch'); "
                         "the runs' metrics.json record them when they train")
    curves = curves.assign(epoch=curves["epoch"].astype(int) + 1)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        line_with_ci(curves[curves["metric"] == metric].dropna(subset=["mean"]), "epoch", "point", ax,
                     marker="." if curves["epoch"].max() > 12 else "o")
        ax.set(xlabel="epoch", ylabel=CURVE_METRICS[metric])
        ax.set_ylim(*((0, 1.01) if metric.endswith("acc") else (0, None)))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.get_legend().remove()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize="small", frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.06 * ((len(labels) - 1) // 4)))
    fig.tight_layout(rect=(0, 0.08 + 0.06 * ((len(labels) - 1) // 4), 1, 1))
    return fig
