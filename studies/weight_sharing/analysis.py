"""weight_sharing: fully-connected vs locally-connected vs convolutional nets over training-set sizes.

Paired advantages, verdict and key table (pandas only); figures in ``figures.py``.
"""
from __future__ import annotations

import pandas as pd

from convstudies.stats import select, t_interval
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


def _diffs(table, comparison, frac) -> tuple[float, float, float]:
    v = select(table, condition="advantage", comparison=comparison, train_fraction=frac)["value"]
    return t_interval(v.to_numpy())


def training_set_sizes(summary) -> pd.Series:
    """Mean training-set size per training fraction."""
    n = select(summary, condition="final", metric="n_train")
    return n.groupby("train_fraction")["mean"].mean()


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    fracs = sorted(select(table, condition="advantage")["train_fraction"].unique())
    small, full = fracs[0], fracs[-1]
    n = training_set_sizes(summary)
    ns, nf = n[small], n[full]
    per_seed = select(table, condition="advantage", comparison="conv - FC").pivot_table(
        index="seed", columns="train_fraction", values="value")
    shrink = (per_seed[small] - per_seed[full]).dropna()
    checks = [
        Check(f"conv - FC test accuracy, {ns:.0f} training digits", *_diffs(table, "conv - FC", small),
              thresholds["conv_fc_small_min"], ">=", "locality + weight sharing regularise"),
        Check(f"conv - locally-connected test accuracy, {ns:.0f} training digits",
              *_diffs(table, "conv - local", small), thresholds["conv_local_small_min"], ">=",
              "weight sharing matters beyond locality"),
        Check(f"shrink of the conv - FC advantage from {ns:.0f} to {nf:.0f} digits", *t_interval(shrink.to_numpy()),
              thresholds["advantage_shrink_min"], ">=", "a regulariser helps most when data are scarce"),
    ]
    result = decide(checks)
    loc = {f: _diffs(table, "local - FC", f) for f in fracs}
    params = {m: float(select(summary, condition="final", metric="params", model=m)["mean"].iloc[0]) for m in MODELS}
    lf = "; ".join(f"{n[f]:.0f} digits: {m:+.3f} [{lo:+.3f}, {hi:+.3f}]" for f, (m, lo, hi) in loc.items())
    cf = _diffs(table, "conv - FC", full)
    result["note"] = (
        f"Parameters: fully-connected {params[FC]:,.0f}, locally-connected {params[LOCAL]:,.0f}, convolutional "
        f"{params[CONV]:,.0f} (locality removes {1 - params[LOCAL] / params[FC]:.0%} of the fully-connected "
        f"weights, sharing another {1 - params[CONV] / params[LOCAL]:.0%} of the rest). Locality alone "
        f"(locally-connected - fully-connected test accuracy): {lf}. With the most training digits ({nf:.0f}) the "
        f"convolutional net leads the fully-connected one by {cf[0]:+.3f} [{cf[1]:+.3f}, {cf[2]:+.3f}].")
    outcome = {c.name: o["outcome"] for c, o in zip(checks, result["evidence"])}
    first, _, third = (c.name for c in checks)
    if outcome[first] == "fail":
        findings = [f"With about {ns:.0f} training digits the convolutional net is not ahead of the fully-connected "
                    "one by the pre-registered margin"]
        if outcome[third] == "fail" and cf[1] > 0:
            findings.append("its lead appears with more data instead of shrinking, so at this scale it does not "
                            "act as the regulariser that matters most when data are scarce")
        sharing = [_diffs(table, "conv - local", f) for f in fracs]
        if all(lo <= 0 for _, lo, _ in sharing):
            findings.append("weight sharing adds nothing measurable over locality at any size here (a likely reason:"
                            " MNIST digits are centred and size-normalised, so position-specific filters lose little)")
        result["note"] += " " + "; ".join(findings) + "."
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
