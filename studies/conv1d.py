"""conv1d: 1D convolutions on MNIST-1D (ordered vs fixed-permuted positions) and on words (negation corpus, MR)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convstudies.engine.evaluations import register_evaluation
from convstudies.plots import new_figure
from convstudies.stats import select, t_interval
from convstudies.verdicts import Check, decide

CHANCE = 0.5  # both text corpora have exactly / nearly balanced classes
MNIST1D_MODELS = ["logistic", "mlp", "cnn"]
TEXT_MODELS = ["text_bow", "text_cnn"]
ORDERED, SHUFFLED = "mnist1d", "mnist1d_shuffled"
# Greydanus (2020), MNIST-1D test accuracy (4,000 training sequences); None: not given in the brief's anchor
PAPER_MNIST1D = {("logistic", ORDERED): 0.32, ("mlp", ORDERED): 0.68, ("cnn", ORDERED): 0.94,
                 ("logistic", SHUFFLED): None, ("mlp", SHUFFLED): 0.68, ("cnn", SHUFFLED): 0.56}
PAPER_MR = {"text_cnn": 0.761}  # Kim (2014), CNN-rand on MR, 10-fold CV


# ----------------------------------------------------------------------------- evaluations

def shuffle_tokens(x, seed: int = 1234):
    """Each row's non-padding tokens (id != 0) in a random order, padding kept at the end."""
    import torch

    gen = torch.Generator(device=x.device)
    gen.manual_seed(seed)
    keys = torch.rand(x.shape, generator=gen, device=x.device)
    keys = torch.where(x == 0, torch.full_like(keys, 2.0), keys)  # padding sorts last
    return x.gather(1, keys.argsort(dim=1))


@register_evaluation
def token_shuffle(model, data, cfg, seed: int = 1234) -> list[dict]:
    """Test accuracy when the words of every test sentence are shuffled (the model was trained on ordered text)."""
    from convstudies.engine.evaluations import accuracy_of

    acc = accuracy_of(model, shuffle_tokens(data.x_test, seed), data.y_test)
    return [{"condition": "token_shuffle", "metric": "accuracy", "value": acc}]


def filter_directions(model) -> "np.ndarray":
    """Per pooled feature, its weight towards the last class minus the first (positive minus negative)."""
    w = model.fc.weight.detach().cpu().numpy()
    return w[-1] - w[0]


def top_ngrams_of(model, x, vocab: list[str], filters: int = 4, top: int = 6, batch: int = 500) -> list[dict]:
    """The n-grams of ``x`` (token ids) that activate chosen filters of a text CNN most.

    The filters are the ``filters // 2`` with the largest weight towards the last class and as
    many towards the first (by :func:`filter_directions`). Per filter, the ``top`` distinct
    n-grams with the highest activation (max over all sentences and positions); padding is "_".
    """
    import torch

    widths, maps = model.widths, model.convs[0].out_channels
    d = filter_directions(model)
    order = np.argsort(d)
    k = max(1, filters // 2)
    chosen = list(order[::-1][:k]) + list(order[:filters - k])
    model.eval()
    with torch.inference_mode():
        per_width = [[] for _ in widths]
        for i in range(0, len(x), batch):
            for j, m in enumerate(model.feature_maps(x[i:i + batch])):
                per_width[j].append(m)
        fmaps = [torch.cat(p, 0) for p in per_width]  # (N, maps, L + w - 1)
    ids = x.reshape(len(x), -1).round().long().cpu().numpy()
    rows = []
    for f in chosen:
        j, c = divmod(int(f), maps)
        w = widths[j]
        act = fmaps[j][:, c, :]  # (N, L + w - 1): position t covers tokens t - w + 1 .. t
        vals, flat = act.flatten().topk(min(act.numel(), 50 * top))
        seen = {}
        for v, idx in zip(vals.tolist(), flat.tolist()):
            n, t = divmod(idx, act.shape[1])
            toks = [ids[n, p] if 0 <= p < ids.shape[1] else 0 for p in range(t - w + 1, t + 1)]
            gram = " ".join(vocab[i] if 0 < i < len(vocab) else "_" for i in toks)
            if gram not in seen:
                seen[gram] = v
            if len(seen) == top:
                break
        label = "positive" if d[f] > 0 else "negative"
        for rank, (gram, v) in enumerate(seen.items()):
            rows.append({"condition": "top_ngram", "filter": f"width {w}, #{c}", "points_to": label,
                         "class_weight": float(d[f]), "rank": rank, "ngram": gram, "metric": "activation",
                         "value": float(v)})
    return rows


@register_evaluation
def top_ngrams(model, data, cfg, filters: int = 4, top: int = 6, split: str = "test") -> list[dict]:
    """Rows with the n-grams (as strings) that maximally activate a few filters of a text CNN."""
    from convstudies.text import vocabulary

    if not hasattr(model, "feature_maps"):
        return []
    return top_ngrams_of(model, getattr(data, f"x_{split}"), vocabulary(data.name), filters, top)


# ----------------------------------------------------------------------------- tables

def entry_of(point: pd.Series) -> pd.Series:
    return point.astype(str).str.split("-").str[0]


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add per-seed rows: each MNIST-1D model's accuracy drop when the positions are shuffled."""
    acc = select(table, condition="test", metric="accuracy")
    if acc.empty or "dataset" not in acc:
        return table
    acc = acc.assign(entry=entry_of(acc["point"]))
    rows = []
    for entry in MNIST1D_MODELS:
        g = acc[acc["entry"] == entry]
        o = g[g["dataset"] == ORDERED].set_index("seed")
        s = g[g["dataset"] == SHUFFLED].set_index("seed")
        for seed in o.index.intersection(s.index):
            base = o.loc[seed]
            rows.append({"study": base["study"], "point": f"{entry}-shuffle_cost", "task": base["task"],
                         "model": base["model"], "run": base["run"], "seed": seed, "status": "ok",
                         "condition": "shuffle_cost", "metric": "accuracy_drop",
                         "value": float(base["value"] - s.loc[seed, "value"])})
    return pd.concat([table, pd.DataFrame(rows)], ignore_index=True) if rows else table


def _values(table, entry, **conds) -> pd.Series:
    t = select(table, **conds)
    return t[entry_of(t["point"]) == entry].set_index("seed")["value"]


def paired(table, entry_a, entry_b, **conds) -> tuple[float, float, float]:
    """Mean and 95 % CI over seeds of (a - b), pairing runs by seed."""
    a, b = _values(table, entry_a, **conds), _values(table, entry_b, **conds)
    return t_interval((a - b).dropna().to_numpy())


def above_chance(table, entry, dataset="negation") -> tuple[float, float, float]:
    v = _values(table, entry, condition="test", metric="accuracy", dataset=dataset)
    return t_interval(v.to_numpy() - CHANCE)


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    checks = [
        Check("CNN - MLP accuracy, ordered MNIST-1D (paired)",
              *paired(table, "cnn", "mlp", condition="test", metric="accuracy", dataset=ORDERED),
              thresholds["cnn_over_mlp_min"], ">=", "1D kernels find the patterns wherever they sit"),
        Check("shuffle cost of the CNN - shuffle cost of the MLP (paired)",
              *paired(table, "cnn", "mlp", condition="shuffle_cost", metric="accuracy_drop"),
              thresholds["shuffle_gap_min"], ">=", "the CNN's advantage is the order of the positions"),
        Check("text CNN accuracy - chance, negation corpus", *above_chance(table, "text_cnn"),
              thresholds["text_cnn_margin_min"], ">=", "a kernel over neighbouring words sees 'not good'"),
        Check("bag-of-words accuracy - chance, negation corpus", *above_chance(table, "text_bow"),
              thresholds["bow_band"], "<=", "without word order the classes look the same"),
    ]
    result = decide(checks)
    notes = []
    mr = select(summary, condition="test", metric="accuracy", dataset="mr")
    if not mr.empty:
        parts = []
        for _, r in mr.iterrows():
            e = entry_of(pd.Series([r["point"]])).iloc[0]
            paper = f" (Kim 2014: {PAPER_MR[e]:.3f})" if e in PAPER_MR else ""
            parts.append(f"{r['model']} {r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]{paper}")
        notes.append("MR sentence polarity, fixed stratified 90/10 split, n = "
                     f"{int(mr['n'].max())} seeds: " + "; ".join(parts) + ".")
    drops = select(summary, condition="shuffle_cost", metric="accuracy_drop")
    if not drops.empty:
        notes.append("Accuracy lost to shuffled positions (MNIST-1D; paper: CNN 0.38, MLP 0.00): " + "; ".join(
            f"{r['model']} {r['mean']:.3f}" for _, r in drops.iterrows()) + ".")
    if notes:
        result["note"] = " ".join(notes)
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per task, model and data: accuracy ordered and shuffled, the paper's, and parameters."""
    acc = select(summary, condition="test", metric="accuracy").assign(entry=lambda d: entry_of(d["point"]))
    shuf = select(summary, condition="token_shuffle", metric="accuracy").assign(entry=lambda d: entry_of(d["point"]))
    params = select(summary, condition="final", metric="params").assign(entry=lambda d: entry_of(d["point"]))
    rows = []
    for entry in MNIST1D_MODELS:
        o, s = acc[(acc["entry"] == entry) & (acc["dataset"] == ORDERED)], acc[(acc["entry"] == entry) & (acc["dataset"] == SHUFFLED)]
        if o.empty:
            continue
        p = params[(params["entry"] == entry) & (params["dataset"] == ORDERED)]
        rows.append({"task": "MNIST-1D", "model": o["model"].iloc[0],
                     "accuracy": o["mean"].iloc[0], "ci": _ci(o.iloc[0]),
                     "shuffled": s["mean"].iloc[0] if len(s) else np.nan, "ci shuffled": _ci(s.iloc[0]) if len(s) else "",
                     "paper": PAPER_MNIST1D.get((entry, ORDERED)), "paper shuffled": PAPER_MNIST1D.get((entry, SHUFFLED)),
                     "parameters": int(p["mean"].iloc[0]) if len(p) else None})
    for dataset, task in (("negation", "negation corpus"), ("mr", "MR")):
        for entry in TEXT_MODELS:
            o = acc[(acc["entry"] == entry) & (acc["dataset"] == dataset)]
            if o.empty:
                continue
            s = shuf[(shuf["entry"] == entry) & (shuf["dataset"] == dataset)]
            rows.append({"task": task, "model": o["model"].iloc[0], "accuracy": o["mean"].iloc[0], "ci": _ci(o.iloc[0]),
                         "shuffled": s["mean"].iloc[0] if len(s) else np.nan,
                         "ci shuffled": _ci(s.iloc[0]) if len(s) else "",
                         "paper": PAPER_MR.get(entry) if dataset == "mr" else None, "paper shuffled": None,
                         "parameters": None})
    out = pd.DataFrame(rows)
    for c in ("paper", "paper shuffled"):
        out[c] = out[c].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}")
    out["parameters"] = out["parameters"].map(lambda v: "" if v is None or pd.isna(v) else f"{int(v):,}")
    return out


def _ci(row) -> str:
    lo, hi = row["ci_low"], row["ci_high"]
    return "" if pd.isna(lo) else f"[{lo:.3f}, {hi:.3f}]"


# ----------------------------------------------------------------------------- figures

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
    import seaborn as sns

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
    import matplotlib.pyplot as plt
    import seaborn as sns

    acc = select(summary, metric="accuracy", condition=["test", "token_shuffle"])
    acc = acc[acc["dataset"].isin(["negation", "mr"])].assign(entry=lambda d: entry_of(d["point"]))
    datasets = [d for d in ("negation", "mr") if (acc["dataset"] == d).any()]
    titles = {"negation": "generated negation corpus", "mr": "MR sentence polarity"}
    hues = ["test words in order", "test words shuffled"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.6 * len(datasets) + 0.6, 3.6), squeeze=False, sharey=True)
    for ax, ds in zip(axes[0], datasets):
        a = acc[acc["dataset"] == ds]
        names = {e: a.loc[a["entry"] == e, "model"].iloc[0] for e in TEXT_MODELS if (a["entry"] == e).any()}
        a = a.assign(group=a["entry"].map(names))
        means, lows, highs = _collect(a, "group", lambda r: hues[0] if r["condition"] == "test" else hues[1])
        centres = _bars(ax, list(names.values()), hues, means, lows, highs, sns.color_palette("muted", 2))
        ax.axhline(CHANCE, ls="--", color="grey", lw=1, label="chance")
        if ds == "mr":
            for e, p in PAPER_MR.items():
                if e in names:
                    ax.plot(centres[(names[e], hues[0])], p, "D", color="black", ms=5, label="Kim 2014 (CNN-rand)")
        ax.set(title=titles[ds], ylim=(0, 1.05), xlabel="", ylabel="test accuracy")
        ax.legend(loc="upper left", fontsize=7, frameon=True)
    fig.tight_layout()
    return fig


def text_filters(table: pd.DataFrame, summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    t = select(table, condition="top_ngram")
    if t.empty:
        fig, ax = new_figure()
        ax.text(0.5, 0.5, "no top_ngrams evaluation in this run", ha="center")
        ax.axis("off")
        return fig
    datasets = [d for d in ("negation", "mr") if (t["dataset"] == d).any()]
    seed = int(t["seed"].min())
    t = t[t["seed"] == seed]
    n_cols = max(t.groupby("dataset")["filter"].nunique())
    col_width = 1.6 + 0.065 * t["ngram"].str.len().max()  # room for the longest n-gram label
    fig, axes = plt.subplots(len(datasets), n_cols, figsize=(col_width * n_cols, 2.4 * len(datasets) + 0.3),
                             squeeze=False)
    names = {"negation": "negation corpus", "mr": "MR"}
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
