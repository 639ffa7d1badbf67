"""weight_sharing: fully-connected vs locally-connected vs convolutional nets over training-set sizes.

Paired advantages, verdict and key table (pandas only); figures in ``figures.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference
from convstudies.stats import example_matrix, select
from convstudies.verdicts import Check, decide

FC, LOCAL, CONV = "fully-connected", "locally-connected", "convolutional"
MODELS = [FC, LOCAL, CONV]
COMPARISONS = {"conv - FC": (CONV, FC), "conv - local": (CONV, LOCAL), "local - FC": (LOCAL, FC)}


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add per-seed rows ``advantage``: paired test-accuracy differences between the nets at each size.

    Runs with the same seed and training fraction saw the same training digits, so the
    differences are paired. The rows carry the convolutional run's point and run id.
    """
    acc = select(table, condition="test", metric="accuracy", status="ok")
    if acc.empty:
        return table
    wide = acc.pivot_table(index=["seed", "train_fraction"], columns="model", values="value", aggfunc="first")
    conv = acc[acc["model"] == CONV].set_index(["seed", "train_fraction"])
    rows = []
    for (seed, frac), r in wide.iterrows():
        if (seed, frac) not in conv.index:
            continue
        base = conv.loc[(seed, frac)]
        for name, (a, b) in COMPARISONS.items():
            if a in r and b in r and pd.notna(r[a]) and pd.notna(r[b]):
                rows.append({"study": base["study"], "point": base["point"], "model": CONV, "run": base["run"],
                             "seed": seed, "status": "ok", "train_fraction": frac, "condition": "advantage",
                             "comparison": name, "metric": "accuracy_diff", "value": float(r[a] - r[b])})
    return pd.concat([table, pd.DataFrame(rows)], ignore_index=True) if rows else table


def _acc(table, examples, model, frac, seeds) -> np.ndarray:
    """(seeds, test digits) correctness of ``model`` trained on ``frac`` of the digits, rows in seed order."""
    rows = select(table, condition="test", metric="accuracy", status="ok", model=model, train_fraction=frac)
    return example_matrix(rows[rows["seed"].isin(seeds)], examples)


def _seeds(table, frac_models) -> list:
    """Seeds with an ok test-accuracy run for every (training fraction, model) given."""
    acc = select(table, condition="test", metric="accuracy", status="ok")
    sets = [set(acc[(acc["model"] == m) & (acc["train_fraction"] == f)]["seed"]) for f, m in frac_models]
    return sorted(set.intersection(*sets)) if sets else []


def _advantage(table, examples, comparison, frac) -> tuple[float, float, float]:
    """Test-accuracy difference of a comparison at one size: paired on seeds (same training digits) and
    test digits; the two-way interval counts seed variation and test-set sampling."""
    a, b = COMPARISONS[comparison]
    seeds = _seeds(table, [(frac, a), (frac, b)])
    if not seeds:
        return np.nan, np.nan, np.nan
    return paired_difference(_acc(table, examples, a, frac, seeds), _acc(table, examples, b, frac, seeds),
                             bounds=(0.0, 1.0))


def _shrink(table, examples, small, full) -> tuple[float, float, float]:
    """(conv - FC) at ``small`` minus (conv - FC) at ``full``, per seed and test digit; two-way interval."""
    seeds = _seeds(table, [(f, m) for f in (small, full) for m in (CONV, FC)])
    if not seeds:
        return np.nan, np.nan, np.nan
    d_small = _acc(table, examples, CONV, small, seeds) - _acc(table, examples, FC, small, seeds)
    d_full = _acc(table, examples, CONV, full, seeds) - _acc(table, examples, FC, full, seeds)
    return paired_difference(d_small, d_full, bounds=(-1.0, 1.0))


def training_set_sizes(summary) -> pd.Series:
    """Mean training-set size per training fraction."""
    n = select(summary, condition="final", metric="n_train")
    return n.groupby("train_fraction")["mean"].mean()


def _ci(m, lo, hi) -> str:
    return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    """Evidence: paired test-accuracy differences at the smallest training set and the shrink of the
    conv - FC advantage, per seed and test digit, with two-way intervals (seed and test-set sampling).

    No setting is selected: the smallest and the full training set are fixed by the design.
    """
    fracs = sorted(select(table, condition="test", metric="accuracy", status="ok")["train_fraction"].unique())
    small, full = fracs[0], fracs[-1]
    n = training_set_sizes(summary)
    ns, nf = n[small], n[full]
    conv_fc = {f: _advantage(table, examples, "conv - FC", f) for f in (small, full)}
    shrink = _shrink(table, examples, small, full)
    evidence = [
        Check(f"conv - FC test accuracy, {ns:.0f} training digits", *conv_fc[small],
              thresholds["conv_fc_small_min"], ">=", "locality + weight sharing regularise"),
        Check(f"conv - locally-connected test accuracy, {ns:.0f} training digits",
              *_advantage(table, examples, "conv - local", small), thresholds["conv_local_small_min"], ">=",
              "weight sharing matters beyond locality"),
        Check(f"shrink of the conv - FC advantage from {ns:.0f} to {nf:.0f} digits", *shrink,
              thresholds["advantage_shrink_min"], ">=", "a regulariser helps most when data are scarce"),
    ]
    result = decide(evidence)
    loc = {f: _advantage(table, examples, "local - FC", f) for f in fracs}
    params = {m: float(select(summary, condition="final", metric="params", model=m)["mean"].iloc[0]) for m in MODELS}
    lf = "; ".join(f"{n[f]:,.0f} digits: {_ci(*v)}" for f, v in loc.items())
    cf = conv_fc[full]
    notes = [
        (f"Parameters: fully-connected {params[FC]:,.0f}, locally-connected {params[LOCAL]:,.0f}, convolutional "
         f"{params[CONV]:,.0f} (locality removes {1 - params[LOCAL] / params[FC]:.0%} of the fully-connected "
         f"weights, sharing another {1 - params[CONV] / params[LOCAL]:.0%} of the rest)."),
        f"Locality alone (locally-connected - fully-connected test accuracy, paired on seeds and test digits): {lf}.",
        (f"With the most training digits ({nf:,.0f}) the convolutional net's test accuracy minus the "
         f"fully-connected one's is {_ci(*cf)}."),
    ]
    fit = select(table, condition="final", metric="train_acc", status="ok")
    if len(fit):
        worst = fit.loc[fit["value"].idxmin()]
        n_worst = n.get(worst["train_fraction"], np.nan)
        notes.append(f"Final-epoch training accuracy (running mean over the last epoch) ranges from "
                     f"{fit['value'].min():.1%} (lowest: {worst['model']}, {n_worst:,.0f} digits, seed "
                     f"{int(worst['seed'])}) to {fit['value'].max():.1%} over all runs.")
    outcome = {c.name: o["outcome"] for c, o in zip(evidence, result["evidence"])}
    first, _, third = (c.name for c in evidence)
    if outcome[first] == "fail":
        margin = thresholds["conv_fc_small_min"]
        findings = [(f"With about {ns:,.0f} training digits the convolutional net's test accuracy minus the "
                     f"fully-connected one's, {_ci(*conv_fc[small])}, is below the pre-registered margin "
                     f"of {margin:g}")]
        if outcome[third] == "fail":
            trend = "grows" if shrink[0] < 0 else "shrinks"
            findings.append(f"from {ns:,.0f} to {nf:,.0f} digits it {trend} by {abs(shrink[0]):.3f} "
                            f"(shrink {_ci(*shrink)}), short of the pre-registered shrink of "
                            f"{thresholds['advantage_shrink_min']:g}")
        sharing = {f: _advantage(table, examples, "conv - local", f) for f in fracs}
        above = [f for f, (_, lo, _) in sharing.items() if lo > 0]
        findings.append(
            "weight sharing (convolutional - locally-connected) is measurably ahead at "
            + (", ".join(f"{n[f]:,.0f} digits" for f in above) if above else "no training-set size")
            + ": " + "; ".join(f"{n[f]:,.0f} digits {_ci(*v)}" for f, v in sharing.items()))
        notes.append("; ".join(findings) + ".")
    result["note"] = " ".join(notes)
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy per training-set size for each net (parameter counts in the headers), and the advantages."""
    params = {m: int(select(summary, condition="final", metric="params", model=m)["mean"].iloc[0]) for m in MODELS}
    acc = select(summary, condition="test", metric="accuracy")
    wide = acc.pivot_table(index="train_fraction", columns="model", values="mean")[MODELS]
    wide.columns = [f"{m} ({params[m]:,} parameters)" for m in MODELS]
    adv = select(summary, condition="advantage").pivot_table(index="train_fraction", columns="comparison",
                                                             values="mean")
    out = wide.join(adv[[c for c in COMPARISONS if c in adv]])
    n = training_set_sizes(summary).reindex(out.index)
    out.insert(0, "training digits", [f"{v:,.0f}" for v in n])
    return out.reset_index(drop=True)
