"""transfer figures: accuracy and gain over scratch against labels per class (matplotlib, no torch)."""
from __future__ import annotations

import pandas as pd

from convstudies.plots import line_with_ci, new_figure
from convstudies.stats import select

from .analysis import FINETUNE, FROZEN, SCRATCH, arm_of


def accuracy_vs_labels(table: pd.DataFrame, summary: pd.DataFrame):
    acc = select(summary, condition="test", metric="accuracy")
    acc = acc[acc["point"].map(arm_of).isin([SCRATCH, FINETUNE, FROZEN])].sort_values("labels", kind="stable")
    fig, ax = new_figure()
    line_with_ci(acc, "labels", "arm", ax)
    ax.set(xscale="log", xlabel="training labels per class (target task)", ylabel="test accuracy", ylim=(0, 1.02))
    # the embedded target task (digits 6-9, after a source run) has 4 classes; the full scale's CIFAR-10 10
    classes = 4 if (table["point"] == "source").any() else 10
    ax.axhline(1 / classes, color="grey", lw=0.8, ls=":")
    ax.annotate(f"chance ({classes} classes)", (ax.get_xlim()[1], 1 / classes), xytext=(-4, 3), textcoords="offset points",
                ha="right", va="bottom", fontsize=8, color="grey")
    ax.legend(title=None)
    return fig


def gain_vs_labels(table: pd.DataFrame, summary: pd.DataFrame):
    gain = select(summary, condition="gain", metric="accuracy_gain").sort_values("labels", kind="stable")
    fig, ax = new_figure()
    line_with_ci(gain, "labels", "arm", ax)  # from scratch is the zero line
    ax.set(xscale="log", xlabel="training labels per class (target task)",
           ylabel="accuracy gain over scratch (paired)")
    ax.legend(title=None)
    return fig
