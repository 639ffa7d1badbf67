"""conv1d figures: MNIST-1D and text accuracy bars, top n-grams of text-CNN filters (matplotlib, no torch)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from convstudies.plots import new_figure
from convstudies.stats import select

from .analysis import (CHANCE, MNIST1D_MODELS, MR_DATASETS, ORDERED, PAPER_MNIST1D, PAPER_MR, SHUFFLED, TEXT_MODELS,
                       entry_of)


def _bars(ax, groups: list[str], hues: list[str], means, lows, highs, colors):
    """Grouped bars: means[g][h] with CI whiskers; returns the bar centres per (g, h)."""
    n = len(hues)
    width = 0.8 / n
    centres = {}
    for hi, h in enumerate(hues):
        xs = np.arange(len(groups)) + (hi - (n - 1) / 2) * width
        m = np.array([means[g].get(h, np.nan) for g in groups], dtype=float)
        lo = np.array([lows[g].get(h, np.nan) for g in groups], dtype=float)
        up = np.array([highs[g].get(h, np.nan) for g in groups], dtype=float)
        err = np.vstack([np.nan_to_num(m - lo), np.nan_to_num(up - m)])
        ax.bar(xs, m, width * 0.95, color=colors[hi], label=h, yerr=err, capsize=3, error_kw={"lw": 1})
        for x, g in zip(xs, groups):
            centres[(g, h)] = x
            v = means[g].get(h, np.nan)
            if not np.isnan(v):
                ax.text(x, 0.02, f"{v:.2f}", ha="center", va="bottom", fontsize=7, color="white", weight="bold")
    ax.set_xticks(np.arange(len(groups)), groups)
    return centres


def _collect(rows: pd.DataFrame, group_col: str, hue_of) -> tuple[dict, dict, dict]:
    means, lows, highs = {}, {}, {}
    for _, r in rows.iterrows():
        g, h = r[group_col], hue_of(r)
        means.setdefault(g, {})[h] = r["mean"]
        lows.setdefault(g, {})[h] = r["ci_low"]
        highs.setdefault(g, {})[h] = r["ci_high"]
    return means, lows, highs


def mnist1d_accuracy(table: pd.DataFrame, summary: pd.DataFrame):
    acc = select(summary, condition="test", metric="accuracy", dataset=[ORDERED, SHUFFLED])
    acc = acc.assign(entry=entry_of(acc["point"]))
    acc = acc[acc["entry"].isin(MNIST1D_MODELS)]
    labels = {ORDERED: "ordered positions", SHUFFLED: "shuffled positions (fixed permutation)"}
    names = {e: acc.loc[acc["entry"] == e, "model"].iloc[0] for e in MNIST1D_MODELS if (acc["entry"] == e).any()}
    acc = acc.assign(group=acc["entry"].map(names))
    means, lows, highs = _collect(acc, "group", lambda r: labels[r["dataset"]])
    fig, ax = new_figure(6.0, 3.8)
    groups = list(names.values())
    hues = [labels[ORDERED], labels[SHUFFLED]]
    centres = _bars(ax, groups, hues, means, lows, highs, sns.color_palette(n_colors=2))
    first = True
    for e, g in names.items():
        for ds in (ORDERED, SHUFFLED):
            p = PAPER_MNIST1D.get((e, ds))
            if p is not None:
                ax.plot(centres[(g, labels[ds])], p, "D", color="black", ms=5,
                        label="paper (Greydanus 2020)" if first else None)
                first = False
    ax.axhline(0.1, ls=":", color="grey", lw=1, label="chance (10 classes)")
    ax.set(ylabel="MNIST-1D test accuracy", ylim=(0, 1), xlabel="")
    ax.legend(loc="upper left", fontsize=7, frameon=True)
    return fig


def text_accuracy(table: pd.DataFrame, summary: pd.DataFrame):
    acc = select(summary, metric="accuracy", condition=["test", "token_shuffle"])
    acc = acc[acc["dataset"].isin(["negation", *MR_DATASETS])].assign(entry=lambda d: entry_of(d["point"]))
    datasets = [d for d in ("negation", *MR_DATASETS) if (acc["dataset"] == d).any()]
    titles = {"negation": "generated negation corpus", "mr": "MR sentence polarity",
              "mr_cv": "MR sentence polarity (10-fold CV)"}
    hues = ["test words in order", "test words shuffled"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.6 * len(datasets) + 0.6, 3.6), squeeze=False, sharey=True)
    for ax, ds in zip(axes[0], datasets):
        a = acc[acc["dataset"] == ds]
        names = {e: a.loc[a["entry"] == e, "model"].iloc[0] for e in TEXT_MODELS if (a["entry"] == e).any()}
        a = a.assign(group=a["entry"].map(names))
        means, lows, highs = _collect(a, "group", lambda r: hues[0] if r["condition"] == "test" else hues[1])
        centres = _bars(ax, list(names.values()), hues, means, lows, highs, sns.color_palette("muted", 2))
        ax.axhline(CHANCE, ls="--", color="grey", lw=1, label="chance")
        if ds in MR_DATASETS:
            for e, p in PAPER_MR.items():
                if e in names:
                    ax.plot(centres[(names[e], hues[0])], p, "D", color="black", ms=5, label="Kim 2014 (CNN-rand)")
        ax.set(title=titles[ds], ylim=(0, 1.05), xlabel="", ylabel="test accuracy")
        ax.legend(loc="upper left", fontsize=7, frameon=True)
    fig.tight_layout()
    return fig


def text_filters(table: pd.DataFrame, summary: pd.DataFrame):
    t = select(table, condition="top_ngram")
    if t.empty:
        fig, ax = new_figure()
        ax.text(0.5, 0.5, "no top_ngrams evaluation in this run", ha="center")
        ax.axis("off")
        return fig
    datasets = [d for d in ("negation", *MR_DATASETS) if (t["dataset"] == d).any()]
    seed = int(t["seed"].min())
    t = t[t["seed"] == seed]
    n_cols = max(t.groupby("dataset")["filter"].nunique())
    col_width = 1.6 + 0.065 * t["ngram"].str.len().max()  # room for the longest n-gram label
    fig, axes = plt.subplots(len(datasets), n_cols, figsize=(col_width * n_cols, 2.4 * len(datasets) + 0.3),
                             squeeze=False)
    names = {"negation": "negation corpus", "mr": "MR", "mr_cv": "MR"}
    colours = {"positive": "#4c9a5b", "negative": "#c0504d"}
    for row, ds in zip(axes, datasets):
        d = t[t["dataset"] == ds]
        for ax, f in zip(row, list(dict.fromkeys(d["filter"]))):
            g = d[d["filter"] == f].sort_values("rank", ascending=False)
            label = g["points_to"].iloc[0]
            ax.barh(range(len(g)), g["value"], color=colours.get(label, "grey"))
            ax.set_yticks(range(len(g)), g["ngram"], fontsize=7)
            ax.set_title((f"{names.get(ds, ds)}: " if len(datasets) > 1 else "") + f"{f}\n→ {label}", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            ax.set_xlabel("activation", fontsize=7)
        for ax in row[len(d["filter"].unique()):]:
            ax.axis("off")
    fig.suptitle(f"Top n-grams of four text-CNN filters (seed {seed}, test sentences)", fontsize=9)
    fig.tight_layout()
    return fig
