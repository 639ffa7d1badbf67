"""weight_sharing: LeCun (1989)'s five nets, from no hidden layer to shared weights in two layers.

Derived rows (generalisation gaps, paired advantages), verdict and key table (pandas only);
figures in ``figures.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference
from convstudies.stats import example_matrix, select
from convstudies.verdicts import Check, decide

NETS = ["Net-1", "Net-2", "Net-3", "Net-4", "Net-5"]
ARCHITECTURE = {"Net-1": "no hidden layer", "Net-2": "fully-connected hidden layer", "Net-3": "locally connected",
                "Net-4": "shared weights in one layer", "Net-5": "shared weights in two layers"}
COMPARISONS = {"Net-5 - Net-2": ("Net-5", "Net-2"), "Net-4 - Net-3": ("Net-4", "Net-3"),
               "Net-4 - Net-2": ("Net-4", "Net-2"), "Net-3 - Net-2": ("Net-3", "Net-2")}
SIZE = "n_train"  # the grid varies data.n_train: a column of the table


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add per-run ``gap`` rows (accuracy on the run's training digits minus test accuracy) and per-seed
    ``advantage`` rows (test-accuracy differences of the comparisons, runs paired by seed and size:
    the same training digits). Advantage rows carry the first net's point and run id."""
    test = select(table, condition="test", metric="accuracy", status="ok")
    if test.empty:
        return table
    rows = []
    train = select(table, condition="train", metric="accuracy", status="ok")
    if len(train):
        tr = train.set_index(["point", "seed"])["value"]
        for _, r in test.iterrows():
            if (r["point"], r["seed"]) in tr.index:
                rows.append({**r.drop(labels=["examples"], errors="ignore").to_dict(), "condition": "gap",
                             "value": float(tr[(r["point"], r["seed"])] - r["value"])})
    wide = test.pivot_table(index=["seed", SIZE], columns="model", values="value", aggfunc="first")
    first = test.set_index(["model", "seed", SIZE])
    for (seed, n), r in wide.iterrows():
        for name, (a, b) in COMPARISONS.items():
            if a in r and b in r and pd.notna(r[a]) and pd.notna(r[b]):
                base = first.loc[(a, seed, n)]
                rows.append({"study": base["study"], "point": base["point"], "model": a, "run": base["run"],
                             "seed": seed, "status": "ok", SIZE: n, "condition": "advantage",
                             "comparison": name, "metric": "accuracy_diff", "value": float(r[a] - r[b])})
    return pd.concat([table, pd.DataFrame(rows)], ignore_index=True) if rows else table


def _seeds(table, model_sizes) -> list:
    """Seeds with an ok test-accuracy run for every (model, size) given."""
    acc = select(table, condition="test", metric="accuracy", status="ok")
    sets = [set(acc[(acc["model"] == m) & (acc[SIZE] == n)]["seed"]) for m, n in model_sizes]
    return sorted(set.intersection(*sets)) if sets else []


def _acc(table, examples, model, n, seeds) -> np.ndarray:
    """(seeds, test digits) correctness of ``model`` trained on ``n`` digits, rows in seed order."""
    rows = select(table, condition="test", metric="accuracy", status="ok", model=model, **{SIZE: n})
    return example_matrix(rows[rows["seed"].isin(seeds)], examples)


def advantage(table, examples, comparison, n) -> tuple[float, float, float]:
    """Test-accuracy difference of a comparison at one training-set size, paired on seeds (same
    training digits) and test digits; the two-way interval counts seed variation and test-set sampling."""
    a, b = COMPARISONS[comparison]
    seeds = _seeds(table, [(a, n), (b, n)])
    if not seeds:
        return np.nan, np.nan, np.nan
    return paired_difference(_acc(table, examples, a, n, seeds), _acc(table, examples, b, n, seeds),
                             bounds=(0.0, 1.0))


def training_set_sizes(summary) -> pd.Series:
    """Mean number of training digits per training-set size (the grid's cap)."""
    n = select(summary, condition="final", metric="n_train")
    return n.groupby(SIZE)["mean"].mean()


def free_parameters(summary) -> pd.Series:
    """Free (distinct trainable) parameters per net, counted from the trained models."""
    p = select(summary, condition="final", metric="params")
    return p.groupby("model")["mean"].first().reindex([m for m in NETS if m in set(p["model"])])


def _ci(m, lo, hi) -> str:
    return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _mean(summary, condition, metric, model, n) -> float:
    rows = select(summary, condition=condition, metric=metric, model=model, **{SIZE: n})
    return float(rows["mean"].iloc[0]) if len(rows) else np.nan


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    """Evidence: Net-5 - Net-2 and Net-4 - Net-3 test accuracy with the fewest training digits, per seed
    and test digit, with two-way intervals (seed and test-set sampling). No setting is selected: the
    smallest training set is fixed by the design."""
    sizes = sorted(select(table, condition="test", metric="accuracy", status="ok")[SIZE].unique())
    small, large = sizes[0], sizes[-1]
    n = training_set_sizes(summary)
    ns = n.get(small, small)
    evidence = [
        Check(f"Net-5 - Net-2 test accuracy, {ns:.0f} training digits",
              *advantage(table, examples, "Net-5 - Net-2", small), thresholds["shared_fc_small_min"], ">=",
              "locality and weight sharing let a net learn from few digits"),
        Check(f"Net-4 - Net-3 test accuracy, {ns:.0f} training digits",
              *advantage(table, examples, "Net-4 - Net-3", small), thresholds["sharing_small_min"], ">=",
              "weight sharing matters beyond locality"),
    ]
    result = decide(evidence)
    params = free_parameters(summary)
    notes = ["Free parameters: " + ", ".join(f"{m} {p:,.0f}" for m, p in params.items()) + "."]
    acc = "; ".join(f"{m} {_mean(summary, 'test', 'accuracy', m, small):.3f} (gap "
                    f"{_mean(summary, 'gap', 'accuracy', m, small):+.3f})" for m in params.index)
    notes.append(f"With {ns:,.0f} training digits, test accuracy (training minus test accuracy): {acc}.")
    for comp in ("Net-3 - Net-2", "Net-4 - Net-2"):
        per_size = "; ".join(f"{n.get(s, s):,.0f} digits {_ci(*advantage(table, examples, comp, s))}" for s in sizes)
        notes.append(f"{comp} test accuracy (paired on seeds and test digits): {per_size}.")
    if large != small:
        nl = n.get(large, large)
        notes.append(f"With {nl:,.0f} training digits, Net-5 - Net-2 is "
                     f"{_ci(*advantage(table, examples, 'Net-5 - Net-2', large))} and Net-4 - Net-3 "
                     f"{_ci(*advantage(table, examples, 'Net-4 - Net-3', large))}.")
    train = select(table, condition="train", metric="accuracy", status="ok")
    if len(train):
        worst = train.loc[train["value"].idxmin()]
        notes.append(f"Accuracy on the training digits after training ranges from {train['value'].min():.1%} "
                     f"(lowest: {worst['model']}, {n.get(worst[SIZE], worst[SIZE]):,.0f} digits, seed "
                     f"{int(worst['seed'])}) to {train['value'].max():.1%}.")
    result["note"] = " ".join(notes)
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per net: architecture, free parameters, then test accuracy and generalisation gap
    (training minus test accuracy) per training-set size (means over seeds)."""
    params = free_parameters(summary)
    n = training_set_sizes(summary)
    out = pd.DataFrame({"net": params.index, "architecture": [ARCHITECTURE[m] for m in params.index],
                        "free parameters": [f"{p:,.0f}" for p in params]})
    for s in sorted(n.index):
        label = f"{n[s]:,.0f} digits"
        out[f"test accuracy, {label}"] = [_mean(summary, "test", "accuracy", m, s) for m in params.index]
        out[f"gap, {label}"] = [_mean(summary, "gap", "accuracy", m, s) for m in params.index]
    return out
