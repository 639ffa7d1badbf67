"""conv_hparams figures: one function per figure of study.yaml, ``fn(table, summary) -> Figure``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from convstudies.plots import new_figure
from convstudies.stats import select

from .analysis import BASE, PROBE, PROBE_CHANCE, SWEEPS, sweep_rows


def _errorbar(ax, g, x, **kw):
    ax.errorbar(g[x], g["mean"], yerr=[g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]], capsize=3, **kw)


def accuracy_vs_factor(table: pd.DataFrame, summary: pd.DataFrame):
    acc = sweep_rows(select(summary, condition="test", metric="accuracy"))
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), sharey=True)
    for ax, (factor, (_, points)) in zip(axes, SWEEPS.items()):
        g = acc[acc["factor"] == factor].set_index("setting").loc[[str(s) for s, _ in points]].reset_index()
        g = g.fillna({"ci_low": g["mean"], "ci_high": g["mean"]})
        _errorbar(ax, g, "setting", marker="o")
        ax.set(xlabel=factor, title=factor)
    lo, hi = axes[0].get_ylim()
    axes[0].set(ylabel="test accuracy", ylim=(max(lo, 0), min(hi, 1.02)))
    fig.tight_layout()
    return fig


def cost_vs_factor(table: pd.DataFrame, summary: pd.DataFrame):
    s = sweep_rows(summary)
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), sharey=True)
    for ax, (factor, (_, points)) in zip(axes, SWEEPS.items()):
        order = [str(v) for v, _ in points]
        for metric, cond, style, label in (("flops", "cost", "-o", "FLOPs"), ("params", "final", "--s", "parameters")):
            g = select(s, factor=factor, condition=cond, metric=metric).set_index("setting").loc[order]
            ax.plot(order, g["mean"], style, label=label)
        ax.set(yscale="log", xlabel=factor, title=factor)
    axes[0].set_ylabel("per image (log scale)")
    axes[0].legend()
    fig.tight_layout()
    return fig


_SHORT = {"kernel size": "k={}", "filters": "f={}", "stride": "s={}", "padding": "{}"}


def accuracy_vs_flops(table: pd.DataFrame, summary: pd.DataFrame):
    s = sweep_rows(summary)
    acc = select(s, condition="test", metric="accuracy")
    fl = select(s, condition="cost", metric="flops")[["factor", "setting", "mean"]].rename(columns={"mean": "flops"})
    d = acc.merge(fl, on=["factor", "setting"])
    d = d.fillna({"ci_low": d["mean"], "ci_high": d["mean"]})
    fig, ax = new_figure(6.2, 4)
    palette = dict(zip(["base"] + list(SWEEPS), sns.color_palette(n_colors=len(SWEEPS) + 1)))
    base = d[d["point"] == BASE].iloc[:1]
    _errorbar(ax, base, "flops", fmt="s", color=palette["base"], label="base (k=3, f=8, s=1, zeros)", zorder=5,
              markersize=7)
    ax.annotate("base", (base["flops"].iloc[0], base["mean"].iloc[0]), textcoords="offset points", xytext=(-8, 6),
                ha="right", fontsize=7, color=palette["base"])
    for factor, g in d[d["point"] != BASE].groupby("factor", sort=False):
        _errorbar(ax, g, "flops", fmt="o", color=palette[factor], label=factor)
        for i, r in enumerate(g.itertuples()):
            same_x = (g["flops"] == r.flops).cumsum().iloc[i] - 1  # stagger labels of equal-cost settings
            ax.annotate(_SHORT[factor].format(r.setting), (r.flops, r.mean), textcoords="offset points",
                        xytext=(5, 3 - 9 * same_x), fontsize=7, color=palette[factor])
    lo, hi = ax.get_ylim()
    ax.set(xscale="log", xlabel="forward FLOPs per image", ylabel="test accuracy", ylim=(max(lo, 0), min(hi, 1.02)))
    ax.legend(title="factor changed", fontsize=7, title_fontsize=8)
    return fig


def position_probe(table: pd.DataFrame, summary: pd.DataFrame):
    acc = select(summary, condition="test", metric="accuracy", point=list(PROBE.values()))
    acc = acc.set_index("point").loc[[p for p in PROBE.values() if p in set(acc["point"])]].reset_index()
    acc["padding"] = acc["point"].str.replace("probe-padding_mode", "", regex=False)
    acc = acc.fillna({"ci_low": acc["mean"], "ci_high": acc["mean"]})
    fig, ax = new_figure(5, 3.4)
    ax.bar(acc["padding"], acc["mean"], yerr=[acc["mean"] - acc["ci_low"], acc["ci_high"] - acc["mean"]],
           capsize=4, color="tab:blue", alpha=0.8)
    for i, m in enumerate(acc["mean"]):
        ax.annotate(f"{m:.2f}", (i, m), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.axhline(PROBE_CHANCE, ls="--", color="k", lw=1, label="chance (4 quadrants)")
    ax.set(ylim=(0, 1.15), xlabel="padding mode", ylabel="quadrant accuracy (test)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    return fig
