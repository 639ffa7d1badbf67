"""conv1d: tables and verdict (pandas only) for 1D convolutions on MNIST-1D (ordered vs fixed-permuted
positions) and on words (negation corpus, MR).

Evidence: test accuracies and their differences, with intervals that count seeds and test
examples (two-way intervals of per-example values; arms paired on seed index and test example,
the ordered and shuffled MNIST-1D test splits holding the same sequences in the same order).
Invariant: a bag-of-words model's prediction ignores word order, so its per-example correctness
on word-shuffled test sentences equals that on the ordered ones.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference, seed_interval, two_way_interval
from convstudies.stats import example_matrix, select
from convstudies.verdicts import Check, decide

CHANCE = 0.5  # both text corpora have exactly / nearly balanced classes
MNIST1D_MODELS = ["logistic", "mlp", "cnn"]
TEXT_MODELS = ["text_bow", "text_cnn"]
ORDERED, SHUFFLED = "mnist1d", "mnist1d_shuffled"
# Greydanus (2020), MNIST-1D test accuracy (4,000 training sequences); None: not given in the brief's anchor
PAPER_MNIST1D = {("logistic", ORDERED): 0.32, ("mlp", ORDERED): 0.68, ("cnn", ORDERED): 0.94,
                 ("logistic", SHUFFLED): None, ("mlp", SHUFFLED): 0.68, ("cnn", SHUFFLED): 0.56}
PAPER_MR = {"text_cnn": 0.761}  # Kim (2014), CNN-rand on MR, 10-fold CV
MR_DATASETS = ("mr", "mr_cv")  # mr: one fixed split; mr_cv: 10-fold cross-validation, one fold per seed


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


ACC = dict(condition="test", metric="accuracy")


def _rows(table: pd.DataFrame, entry: str, **conds) -> pd.DataFrame:
    t = select(table, **conds)
    return t[entry_of(t["point"]) == entry]


def matrices(table: pd.DataFrame, examples: dict, *arms: tuple[str, dict]) -> list[np.ndarray]:
    """(seeds, examples) arrays of the runs of each arm, an arm being (grid entry, conditions), on the
    seeds every arm has, rows in seed order: row s of every array comes from seed index s."""
    rows = [_rows(table, entry, **conds) for entry, conds in arms]
    seeds = set.intersection(*(set(r["seed"]) for r in rows))
    return [example_matrix(r[r["seed"].isin(seeds)], examples) for r in rows]


def above_chance(table, examples, entry, dataset="negation") -> tuple[float, float, float]:
    """Test accuracy minus chance, with its interval over seeds and test examples."""
    m, lo, hi = two_way_interval(matrices(table, examples, (entry, dict(dataset=dataset, **ACC)))[0])
    return m - CHANCE, lo - CHANCE, hi - CHANCE


def shuffle_costs(table, examples, *entries) -> list[np.ndarray]:
    """Per seed and test example: ordered minus shuffled-positions correctness of each MNIST-1D entry
    (values in [-1, 1]), on the seeds all of them have."""
    arms = [(e, dict(dataset=ds, **ACC)) for e in entries for ds in (ORDERED, SHUFFLED)]
    m = matrices(table, examples, *arms)
    return [m[2 * i] - m[2 * i + 1] for i in range(len(entries))]


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    table = table[table["status"] == "ok"]
    cnn_cost, mlp_cost = shuffle_costs(table, examples, "cnn", "mlp")
    evidence = [
        Check("CNN - MLP accuracy, ordered MNIST-1D (paired on seeds and test examples)",
              *paired_difference(*matrices(table, examples, ("cnn", dict(dataset=ORDERED, **ACC)),
                                           ("mlp", dict(dataset=ORDERED, **ACC)))),
              thresholds["cnn_over_mlp_min"], ">=", "1D kernels find the patterns wherever they sit"),
        Check("shuffle cost of the CNN - shuffle cost of the MLP (paired on seeds and test examples)",
              *paired_difference(cnn_cost, mlp_cost, bounds=(-1.0, 1.0)),
              thresholds["shuffle_gap_min"], ">=", "the CNN's advantage is the order of the positions"),
        Check("text CNN accuracy - chance, negation corpus (interval over seeds and test examples)",
              *above_chance(table, examples, "text_cnn"),
              thresholds["text_cnn_margin_min"], ">=", "a kernel over neighbouring words sees 'not good'"),
        Check("bag-of-words accuracy - chance, negation corpus (interval over seeds and test examples)",
              *above_chance(table, examples, "text_bow"),
              thresholds["bow_band"], "<=", "without word order the classes look the same"),
    ]
    result = decide(evidence, invariants(table, examples))
    note = _note(table, examples)
    if note:
        result["note"] = note
    return result


def invariants(table: pd.DataFrame, examples: dict) -> list[Check]:
    """Bag of words is blind to word order by construction: the share of test sentences whose
    correctness changes when their words are shuffled is exactly 0 (every corpus it ran on)."""
    shuf = _rows(table, "text_bow", condition="token_shuffle", metric="accuracy")
    if shuf.empty or "examples" not in shuf or shuf["examples"].isna().any():
        return []
    changed = []
    ordered = _rows(table, "text_bow", **ACC).set_index(["dataset", "seed"])["examples"]
    for (dataset, seed), key in shuf.set_index(["dataset", "seed"])["examples"].items():
        # run by run (the folds of a cross-validated corpus hold different sentences)
        a, b = np.asarray(examples[ordered.loc[(dataset, seed)]], float), np.asarray(examples[key], float)
        changed.append(float(np.abs(a - b).mean()))
    dev = max(changed)
    return [Check("bag of words: share of test sentences whose correctness changes with word-shuffled input "
                  "(max over runs)", dev, dev, dev, 0.0, "<=",
                  "a mean of word embeddings cannot see word order")]


def _mr_interval(rows: pd.DataFrame, examples: dict, dataset: str) -> tuple[float, float, float]:
    """MR accuracy: under cross-validation (mr_cv) each seed tests on its own fold, so the folds' accuracies
    are the units (t-interval over folds); on the fixed split the two-way interval over seeds and sentences."""
    if dataset == "mr_cv":
        return seed_interval(rows.sort_values("seed")["value"].to_numpy())
    return two_way_interval(example_matrix(rows, examples))


def _interval(m, lo, hi) -> str:
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def _note(table: pd.DataFrame, examples: dict) -> str:
    notes = []
    for dataset in MR_DATASETS:
        mr = select(table, dataset=dataset, **ACC)
        if mr.empty:
            continue
        parts = []
        for entry in TEXT_MODELS:
            rows = mr[entry_of(mr["point"]) == entry]
            if rows.empty:
                continue
            paper = f" (Kim 2014: {PAPER_MR[entry]:.3f})" if entry in PAPER_MR else ""
            parts.append(f"{rows['model'].iloc[0]} {_interval(*_mr_interval(rows, examples, dataset))}{paper}")
        how = ("10-fold cross-validation, mean over n = "
               f"{mr['seed'].nunique()} folds (95 % t-intervals over folds, which count fold and test-sentence "
               "variation)" if dataset == "mr_cv" else "fixed stratified 90/10 split, n = "
               f"{mr['seed'].nunique()} seeds (95 % intervals over seeds and test examples)")
        notes.append(f"MR sentence polarity, {how}: " + "; ".join(parts) + ".")
    present = [e for e in MNIST1D_MODELS if not _rows(table, e, dataset=SHUFFLED, **ACC).empty
               and not _rows(table, e, dataset=ORDERED, **ACC).empty]
    if present:
        costs = shuffle_costs(table, examples, *present)
        names = {e: _rows(table, e, dataset=ORDERED, **ACC)["model"].iloc[0] for e in present}
        notes.append("Accuracy lost to shuffled positions (MNIST-1D, 95 % intervals over seeds and test examples; "
                     "paper: CNN 0.38, MLP 0.00): " + "; ".join(
                         f"{names[e]} {_interval(*two_way_interval(c, bounds=(-1.0, 1.0)))}"
                         for e, c in zip(present, costs)) + ".")
    return " ".join(notes)


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
    for dataset, task in (("negation", "negation corpus"), ("mr", "MR"), ("mr_cv", "MR (10-fold CV)")):
        for entry in TEXT_MODELS:
            o = acc[(acc["entry"] == entry) & (acc["dataset"] == dataset)]
            if o.empty:
                continue
            s = shuf[(shuf["entry"] == entry) & (shuf["dataset"] == dataset)]
            rows.append({"task": task, "model": o["model"].iloc[0], "accuracy": o["mean"].iloc[0], "ci": _ci(o.iloc[0]),
                         "shuffled": s["mean"].iloc[0] if len(s) else np.nan,
                         "ci shuffled": _ci(s.iloc[0]) if len(s) else "",
                         "paper": PAPER_MR.get(entry) if dataset in MR_DATASETS else None, "paper shuffled": None,
                         "parameters": None})
    out = pd.DataFrame(rows)
    for c in ("paper", "paper shuffled"):
        out[c] = out[c].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}")
    out["parameters"] = out["parameters"].map(lambda v: "" if v is None or pd.isna(v) else f"{int(v):,}")
    return out


def _ci(row) -> str:
    lo, hi = row["ci_low"], row["ci_high"]
    return "" if pd.isna(lo) else f"[{lo:.3f}, {hi:.3f}]"
