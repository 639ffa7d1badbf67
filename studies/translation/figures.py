"""translation figures: one function per figure of study.yaml, ``fn(table, summary) -> Figure``."""
from __future__ import annotations

import pandas as pd

from convstudies.plots import line_with_ci, new_figure
from convstudies.stats import select

from .analysis import CENTRED, efficiency_curves


def accuracy_vs_shift(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    line_with_ci(select(summary, condition="shift_mean", metric="accuracy", point=CENTRED), "shift", "model", ax)
    ax.set(xlabel="shift of the test digits (pixels)", ylabel="test accuracy", ylim=(0, 1))
    return fig


def consistency_vs_shift(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    line_with_ci(select(summary, condition="consistency", point=CENTRED), "shift", "model", ax)
    ax.set(xlabel="maximum random shift (pixels per axis)", ylabel="shift consistency", ylim=(0, 1))
    return fig


def sample_efficiency(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    line_with_ci(efficiency_curves(summary).rename(columns={"samples": "training digits"}), "training digits",
                 "model", ax)
    ax.set(xscale="log", ylabel="accuracy on shifted test digits (≤ 8 px)", ylim=(0, 1))
    return fig
