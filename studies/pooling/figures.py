"""pooling figures: consistency and accuracy against the shift, consistency against the window."""
from __future__ import annotations

import pandas as pd

from convstudies.plots import line_with_ci, new_figure
from convstudies.stats import select

from .analysis import KIND_NAMES, KINDS, RANGE, SIZES


def _named(df):
    return df.assign(pooling=df["pool"].map(KIND_NAMES))


def consistency_vs_shift(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    line_with_ci(_named(select(summary, condition="shifted", metric="consistency", point=KINDS)), "shift", "pooling", ax)
    ax.set(xlabel="shift of the test digits (pixels)", ylabel="consistency with the unshifted prediction",
           ylim=(0, 1.02), xticks=sorted(table["shift"].dropna().unique()))
    return fig


def accuracy_vs_shift(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    line_with_ci(_named(select(summary, condition="shifted", metric="accuracy", point=KINDS)), "shift", "pooling", ax)
    ax.set(xlabel="shift of the test digits (pixels)", ylabel="test accuracy", ylim=(0, 1.02),
           xticks=sorted(table["shift"].dropna().unique()))
    return fig


def invariance_vs_pool_size(table: pd.DataFrame, summary: pd.DataFrame):
    cons = select(summary, condition="shifted", metric="consistency", point=list(SIZES))
    cons = cons[cons["shift"].isin(RANGE)].assign(window=lambda d: d["point"].map(SIZES),
                                                 test_shift=lambda d: d["shift"].astype(int).astype(str) + " px")
    fig, ax = new_figure()
    line_with_ci(cons.rename(columns={"test_shift": "test shift"}), "window", "test shift", ax)
    ax.set(xlabel="window of the first max-pooling layer", ylabel="consistency with the unshifted prediction",
           ylim=(0, 1.02), xticks=sorted(SIZES.values()))
    return fig
