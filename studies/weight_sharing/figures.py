"""weight_sharing figures: learning curves of the three nets, and the convolutional net's advantages."""
from __future__ import annotations

import pandas as pd

from convstudies.plots import line_with_ci, new_figure
from convstudies.stats import select

from .analysis import COMPARISONS, MODELS, training_set_sizes


def _with_n(summary, rows) -> pd.DataFrame:
    n = training_set_sizes(summary).rename("training digits").reset_index()
    return rows.merge(n, on="train_fraction")


def _size_ticks(ax, sizes) -> None:
    ticks = sorted(set(sizes.round()))
    ax.set_xticks(ticks, [f"{t:,.0f}" for t in ticks])
    ax.minorticks_off()


def learning_curves(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    acc = _with_n(summary, select(summary, condition="test", metric="accuracy"))
    acc = pd.concat([acc[acc["model"] == m] for m in MODELS])
    line_with_ci(acc, "training digits", "model", ax)
    ax.set(xscale="log", ylabel="test accuracy")
    _size_ticks(ax, acc["training digits"])
    ax.legend(title=None, fontsize=8)
    return fig


def advantage(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    adv = _with_n(summary, select(summary, condition="advantage"))
    adv = pd.concat([adv[adv["comparison"] == c] for c in COMPARISONS])
    adv["comparison"] = adv["comparison"].map({"conv - FC": "convolutional - fully-connected",
                                               "conv - local": "convolutional - locally-connected",
                                               "local - FC": "locally-connected - fully-connected"})
    line_with_ci(adv, "training digits", "comparison", ax)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set(xscale="log", ylabel="test-accuracy difference (paired by seed)")
    _size_ticks(ax, adv["training digits"])
    ax.legend(title=None, fontsize=8)
    return fig
