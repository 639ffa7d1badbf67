"""residual figures: learning curves, depth effect, per-layer gradient norms (matplotlib, no torch)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter

from convstudies.plots import line_with_ci
from convstudies.stats import select

from .analysis import depths


def _panels(sharey: bool = False):
    return plt.subplots(1, 2, figsize=(9, 3.6), sharey=sharey, layout="constrained")


def _depth_label(s: pd.DataFrame) -> pd.DataFrame:
    return s.assign(layers=s["depth"].astype(int).astype(str) + " layers")


def training_curves(table: pd.DataFrame, summary: pd.DataFrame):
    curves = _depth_label(select(summary, condition="epoch", metric="train_loss"))
    curves = curves.assign(epoch=curves["epoch"] + 1).sort_values("depth")
    fig, axes = _panels(sharey=True)
    for ax, net in zip(axes, ("plain", "residual")):
        line_with_ci(select(curves, net=net), "epoch", "layers", ax)
        ax.set(title=f"{net} nets", xlabel="epoch", ylabel="training loss (cross-entropy)")
        ax.set_xticks(sorted(curves["epoch"].unique()))
        ax.set_ylim(bottom=0)
        ax.legend(title=None)
    return fig


def depth_effect(table: pd.DataFrame, summary: pd.DataFrame):
    fig, axes = _panels()
    loss = select(summary, condition="train", metric="loss")
    acc = select(summary, condition="test", metric="accuracy")
    line_with_ci(loss.sort_values("depth"), "depth", "net", axes[0])
    axes[0].set(xlabel="depth (weighted layers)", ylabel="final loss on the training set")
    axes[0].set_ylim(bottom=0)
    line_with_ci(acc.sort_values("depth"), "depth", "net", axes[1])
    axes[1].set(xlabel="depth (weighted layers)", ylabel="test accuracy", ylim=(0, 1.02))
    for ax in axes:
        ax.set_xticks(sorted(loss["depth"].unique()))
        ax.legend(title=None)
    return fig


def gradient_norms(table: pd.DataFrame, summary: pd.DataFrame):
    lo, hi = depths(summary)
    g = select(summary, metric="log10_grad_norm", depth=[lo, hi])
    g = g.assign(net=g["net"] + " " + g["depth"].astype(int).astype(str)).sort_values(["depth", "net"])
    fig, axes = _panels(sharey=True)
    for ax, (cond, title) in zip(axes, (("grad_init", "at initialisation"), ("grad_trained", "after training"))):
        line_with_ci(select(g, condition=cond), "layer", "net", ax, marker=".")
        ax.set(title=title, xlabel="layer (1 = stem convolution, last = FC)", ylabel="‖∂L/∂W‖ (log scale)")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"$10^{{{v:g}}}$"))
        ax.legend(title=None)
    return fig
