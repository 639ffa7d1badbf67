"""conv1d: tables and verdict (pandas only) for 1D convolutions on MNIST-1D (ordered vs fixed-permuted
positions) and on words (negation corpus, MR)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convstudies.stats import per_seed, select, t_interval
from convstudies.verdicts import Check, decide

CHANCE = 0.5  # both text corpora have exactly / nearly balanced classes
MNIST1D_MODELS = ["logistic", "mlp", "cnn"]
TEXT_MODELS = ["text_bow", "text_cnn"]
ORDERED, SHUFFLED = "mnist1d", "mnist1d_shuffled"
# Greydanus (2020), MNIST-1D test accuracy (4,000 training sequences); None: not given in the brief's anchor
PAPER_MNIST1D = {("logistic", ORDERED): 0.32, ("mlp", ORDERED): 0.68, ("cnn", ORDERED): 0.94,
                 ("logistic", SHUFFLED): None, ("mlp", SHUFFLED): 0.68, ("cnn", SHUFFLED): 0.56}
PAPER_MR = {"text_cnn": 0.761}  # Kim (2014), CNN-rand on MR, 10-fold CV


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
    """Values by seed of the runs of grid entry ``entry`` (point-id prefix) matching ``conds``."""
    t = select(table, **conds)
    return per_seed(t[entry_of(t["point"]) == entry])


def paired_entries(table, entry_a, entry_b, **conds) -> tuple[float, float, float]:
    """Mean and 95 % CI over seeds of (a - b) for two grid entries (point-id prefixes), pairing runs by seed."""
    a, b = _values(table, entry_a, **conds), _values(table, entry_b, **conds)
    return t_interval((a - b).dropna().to_numpy())


def above_chance(table, entry, dataset="negation") -> tuple[float, float, float]:
    v = _values(table, entry, condition="test", metric="accuracy", dataset=dataset)
    return t_interval(v.to_numpy() - CHANCE)


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    checks = [
        Check("CNN - MLP accuracy, ordered MNIST-1D (paired)",
              *paired_entries(table, "cnn", "mlp", condition="test", metric="accuracy", dataset=ORDERED),
              thresholds["cnn_over_mlp_min"], ">=", "1D kernels find the patterns wherever they sit"),
        Check("shuffle cost of the CNN - shuffle cost of the MLP (paired)",
              *paired_entries(table, "cnn", "mlp", condition="shuffle_cost", metric="accuracy_drop"),
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
