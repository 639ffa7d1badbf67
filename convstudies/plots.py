"""Plot helpers shared by study figures: mean lines with 95 % CI bands from a summary table."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def line_with_ci(summary: pd.DataFrame, x: str, hue: str, ax=None, marker: str = "o", **kw):
    """Seaborn lines of ``mean`` against ``x`` per ``hue``, with bands from ``ci_low``/``ci_high``."""
    ax = ax or plt.gca()
    hues = list(dict.fromkeys(summary[hue]))
    palette = dict(zip(hues, sns.color_palette(n_colors=len(hues))))
    sns.lineplot(data=summary, x=x, y="mean", hue=hue, hue_order=hues, palette=palette, marker=marker,
                 errorbar=None, ax=ax, **kw)
    for h, g in summary.groupby(hue, sort=False):
        g = g.sort_values(x)
        ax.fill_between(g[x], g["ci_low"], g["ci_high"], color=palette[h], alpha=0.2, linewidth=0)
    return ax


def new_figure(width: float = 5.5, height: float = 3.6):
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax
