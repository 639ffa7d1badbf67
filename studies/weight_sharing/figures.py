"""weight_sharing figures: accuracy and generalisation gap against free parameters; learning curves."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from convstudies.plots import line_with_ci, new_figure
from convstudies.stats import select

from .analysis import NETS, SIZE, free_parameters, training_set_sizes


def _per_net(summary, condition) -> pd.DataFrame:
    rows = select(summary, condition=condition, metric="accuracy")
    rows = rows[rows["model"].isin(NETS)].copy()
    rows["free parameters"] = rows["model"].map(free_parameters(summary))
    rows["training digits"] = rows[SIZE].map(training_set_sizes(summary)).map(lambda v: f"{v:,.0f} digits")
    return rows


def accuracy_vs_parameters(table: pd.DataFrame, summary: pd.DataFrame):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    params = free_parameters(summary)
    for ax, condition, ylabel in ((axes[0], "test", "test accuracy"),
                                  (axes[1], "gap", "training minus test accuracy")):
        rows = _per_net(summary, condition)
        for label, g in rows.groupby("training digits", sort=False):
            g = g.sort_values("free parameters")
            ax.errorbar(g["free parameters"], g["mean"], yerr=[g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]],
                        marker="o", capsize=3, linestyle="none", label=label)
        top = rows.groupby("model")["mean"].max()
        for m, p in params.items():
            ax.annotate(m, (p, top[m]), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7)
        ax.set(xscale="log", xlabel="free parameters", ylabel=ylabel)
        ax.minorticks_off()
        ax.set_xticks(sorted(params), [f"{p:,.0f}" for p in sorted(params)], rotation=45, fontsize=7)
    axes[0].legend(title=None, fontsize=8)
    fig.tight_layout()
    return fig


def learning_curves(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    acc = select(summary, condition="test", metric="accuracy")
    acc = acc.assign(**{"training digits": acc[SIZE].map(training_set_sizes(summary))})
    acc = pd.concat([acc[acc["model"] == m] for m in NETS])
    line_with_ci(acc, "training digits", "model", ax)
    ax.set(xscale="log", ylabel="test accuracy")
    ticks = sorted(set(acc["training digits"].round()))
    ax.set_xticks(ticks, [f"{t:,.0f}" for t in ticks])
    ax.minorticks_off()
    ax.legend(title=None, fontsize=8)
    return fig
