"""lenet5 figures: C1 kernels, feature maps of one digit, receptive fields per layer (the faithful LeNet-5)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from convstudies.stats import one_row, select

from .analysis import LAYERS, faithful, first_seed_run, unpack


def _grid_values(rows: pd.DataFrame) -> np.ndarray:
    if len(rows) != 1:
        raise ValueError(f"expected one array row, found {len(rows)}")
    return unpack(rows.iloc[0])


def c1_kernels(table: pd.DataFrame, summary: pd.DataFrame):
    table = faithful(table)
    k = select(table, condition="c1_kernel", metric="weights", status="ok")
    k = k[k["in_channel"] == 0]
    seeds = sorted(k["seed"].unique())
    panels = [("init", seeds[0], f"init (seed {seeds[0]})")] + [("trained", s, f"trained, seed {s}") for s in seeds]
    n_f = int(k["channel"].max()) + 1
    fig, axes = plt.subplots(len(panels), n_f, figsize=(1.1 * n_f + 1.2, 1.15 * len(panels)), squeeze=False)
    for r, (state, seed, label) in enumerate(panels):
        for f in range(n_f):
            ax = axes[r, f]
            w = _grid_values(select(k, state=state, seed=seed, channel=f))
            v = np.nanmax(np.abs(w)) or 1.0
            ax.imshow(w, cmap="RdBu_r", vmin=-v, vmax=v)
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            if r == 0:
                ax.set_title(f"kernel {f + 1}", fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle("LeNet-5 C1 kernels (5x5)", fontsize=10)
    fig.tight_layout()
    return fig


def feature_maps(table: pd.DataFrame, summary: pd.DataFrame):
    fm = first_seed_run(select(faithful(table), condition="feature_map", metric="activations", status="ok"))
    seed = int(fm["seed"].iloc[0])
    digit = int(fm["digit"].dropna().iloc[0])
    cols = 8
    fig, axes = plt.subplots(3, cols, figsize=(cols * 1.15, 3 * 1.3))
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        ax.grid(False)
    axes[0, 0].imshow(_grid_values(select(fm, layer="input", channel=0)), cmap="gray_r")
    axes[0, 0].set_title(f"input ({digit})", fontsize=8)
    for c in range(6):
        ax = axes[0, c + 1]
        ax.imshow(_grid_values(select(fm, layer="C1", channel=c)), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"C1 map {c + 1}", fontsize=8)
    axes[0, 7].axis("off")
    for c in range(16):
        ax = axes[1 + c // cols, c % cols]
        im = ax.imshow(_grid_values(select(fm, layer="C3", channel=c)), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"C3 map {c + 1}", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.6, label="activation (tanh)")
    fig.suptitle(f"Feature maps of one test digit (trained LeNet-5, seed {seed})", fontsize=10)
    return fig


def receptive_fields(table: pd.DataFrame, summary: pd.DataFrame):
    grads = first_seed_run(select(faithful(table), condition="rf_gradient", metric="abs_grad", status="ok"))
    rf = select(faithful(summary), condition="receptive_field")
    fig = plt.figure(figsize=(9, 5.2))
    gs = fig.add_gridspec(2, len(LAYERS), height_ratios=[1, 1.1])
    box = {lay: (one_row(rf, layer=lay, state="trained", metric="first")["mean"],
                 one_row(rf, layer=lay, state="trained", metric="analytic")["mean"]) for lay in LAYERS}
    size = _grid_values(select(grads, layer=LAYERS[0])).shape[0]
    lo = min(0, *(f for f, _ in box.values())) - 1  # one frame for all panels, with the zero padding
    hi = max(size - 1, *(f + r - 1 for f, r in box.values())) + 1
    for i, layer in enumerate(LAYERS):
        ax = fig.add_subplot(gs[0, i])
        g = _grid_values(select(grads, layer=layer))
        first, r = box[layer]
        ax.set_facecolor("0.75")
        ax.imshow(g, cmap="magma", vmin=0, vmax=1)
        ax.add_patch(Rectangle((first - 0.5, first - 0.5), r, r, fill=False, ls="--", lw=1.2, ec="cyan"))
        ax.set_xlim(lo - 0.5, hi + 0.5), ax.set_ylim(hi + 0.5, lo - 0.5)
        ax.set_xticks([]), ax.set_yticks([])
        ax.grid(False)
        ax.set_title(f"{layer}: r = {r:.0f}", fontsize=9)
    ax = fig.add_subplot(gs[1, :])
    x = np.arange(len(LAYERS))
    series = [("analytic", "trained", "analytic", "-", "o"),
              ("analytic, clipped to the 28x28 image", "trained", "analytic_in_image", "--", "s"),
              ("measured at initialisation", "init", "measured", "none", "x"),
              ("measured after training", "trained", "measured", "none", "+")]
    for label, state, metric, ls, marker in series:
        y = [one_row(rf, layer=lay, state=state, metric=metric)["mean"] for lay in LAYERS]
        ax.plot(x, y, ls=ls, marker=marker, ms=9 if marker in "x+" else 6, label=label)
    ax.set_xticks(x, LAYERS)
    ax.set(xlabel="layer", ylabel="receptive field (pixels)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
