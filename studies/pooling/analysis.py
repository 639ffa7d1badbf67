"""pooling: shift consistency of max/avg/strided-conv/blurred-max/no pooling at one output geometry; the
window of max pooling at a fixed stride; Zhang (2019)'s consistency of blurred vs plain max pooling; the
max-pool sub-gradient.

Tables, verdict and key table (pandas only); evaluations in ``evaluations.py``, figures in ``figures.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference
from convstudies.stats import example_matrix, select
from convstudies.verdicts import Check, decide

KINDS = ["kind-poolmax", "kind-poolavg", "kind-poolconv", "kind-poolblurmax", "kind-poolnone"]
KIND_NAMES = {"max": "max pooling", "avg": "average pooling", "conv": "strided conv", "blurmax": "blurred max",
              "none": "no pooling"}
# window of the max pooling in both blocks, stride 2 and "same" padding: every window gives a 16x8x8 head input;
# window 1 is plain subsampling (every second pixel), the no-pooling control at the same geometry
SIZES = {"size-pool_size1": 1, "kind-poolmax": 2, "size-pool_size3": 3, "size-pool_size4": 4}
SMALL = (1, 2)        # "small shifts" of the first check (pixels)
RANGE = (1, 2, 3, 4)  # shifts over which window sizes are compared
EXTENT_LEVEL = 0.9    # invariance extent: the shift at which consistency falls to this level


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Per run: consistency averaged over small shifts (1-2 px) and over 1-4 px; the invariance extent."""
    cons = select(table, condition="shifted", metric="consistency")
    if cons.empty:
        return table
    keys = [c for c in table.columns if c not in ("shift", "value", "metric", "condition", "examples")]
    out = [table]
    for name, shifts in (("consistency_1_2px", SMALL), ("consistency_1_4px", RANGE)):
        m = cons[cons["shift"].isin(shifts)].groupby(keys, dropna=False, as_index=False)["value"].mean()
        out.append(m.assign(condition="shift_mean", metric=name))
    ext = cons.groupby(keys, dropna=False)[["shift", "value"]].apply(
        lambda g: invariance_extent(g["shift"].to_numpy(), g["value"].to_numpy())).rename("value").reset_index()
    out.append(ext.assign(condition="shift_mean", metric="invariance_extent_px"))
    return pd.concat(out, ignore_index=True)


def invariance_extent(shifts, consistency, level: float = EXTENT_LEVEL) -> float:
    """The shift (px) at which consistency first falls to ``level``, linearly interpolated.

    The largest shift measured when it never does (a lower bound).
    """
    order = np.argsort(shifts)
    s, c = np.asarray(shifts, float)[order], np.asarray(consistency, float)[order]
    below = np.nonzero(c < level)[0]
    if len(below) == 0:
        return float(s[-1])
    i = below[0]
    if i == 0:
        return float(s[0])
    return float(s[i - 1] + (c[i - 1] - level) / (c[i - 1] - c[i]) * (s[i] - s[i - 1]))


def _worst(table, metric) -> float:
    """The largest value of a sub-gradient metric over every max-pooling run (NaN when none was measured)."""
    v = select(table, condition="subgradient", metric=metric, status="ok")["value"].to_numpy(dtype=float)
    return float(np.max(v)) if len(v) else float("nan")


def consistency_over_shifts(table, examples, point, shifts, seeds=None) -> np.ndarray:
    """(seeds, test digits) consistency of ``point`` averaged over ``shifts`` (each digit's own mean).

    The rows are the runs of ``seeds`` (default: every ok run of the point) in seed order.
    """
    rows = select(table, point=point, condition="shifted", metric="consistency", status="ok")
    if seeds is not None:
        rows = rows[rows["seed"].isin(seeds)]
    return np.mean([example_matrix(rows, examples, shift=s) for s in shifts], axis=0)


def _gain(table, examples, a, b, shifts) -> tuple[float, float, float]:
    """Consistency of ``a`` minus ``b`` over ``shifts``: paired on seeds and test digits, two-way interval."""
    ok = select(table, condition="shifted", metric="consistency", status="ok")
    seeds = sorted(set(ok[ok["point"] == a]["seed"]) & set(ok[ok["point"] == b]["seed"]))
    if not seeds:
        return np.nan, np.nan, np.nan
    return paired_difference(consistency_over_shifts(table, examples, a, shifts, seeds),
                             consistency_over_shifts(table, examples, b, shifts, seeds), bounds=(0.0, 1.0))


def _pair_gain(table, examples, a, b) -> tuple[float, float, float]:
    """Zhang's two-random-shift consistency of ``a`` minus ``b``: paired on seeds and test digits, two-way interval."""
    ok = select(table, condition="shift_pair", metric="consistency", status="ok")
    seeds = sorted(set(ok[ok["point"] == a]["seed"]) & set(ok[ok["point"] == b]["seed"]))
    if not seeds:
        return np.nan, np.nan, np.nan

    def matrix(point):
        rows = ok[(ok["point"] == point) & ok["seed"].isin(seeds)]
        return example_matrix(rows, examples)

    return paired_difference(matrix(a), matrix(b), bounds=(0.0, 1.0))


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    """Evidence: consistency gains (per-digit consistency averaged over the shifts, paired on seeds
    and test digits, two-way intervals counting seed and test-set sampling), every compared pair at
    the same output geometry; Zhang's consistency of blurred over plain max pooling. Invariants:
    the max-pool gradient rule on the trained nets' own activations (worst run)."""
    small, rng = "shifts 1-2 px", "shifts 1-4 px"
    evidence = [
        Check(f"consistency gain of max pooling (window 2) over plain subsampling (window 1), same stride and head, "
              f"{small}",
              *_gain(table, examples, "kind-poolmax", "size-pool_size1", SMALL), thresholds["small_shift_margin"],
              ">=", "max pooling buys invariance to small shifts"),
        Check(f"consistency gain of window 3 over window 2 (stride 2), {rng}",
              *_gain(table, examples, "size-pool_size3", "kind-poolmax", RANGE), thresholds["pool_step_min"], ">=",
              "a larger window extends the invariance"),
        Check(f"consistency gain of window 4 over window 3 (stride 2), {rng}",
              *_gain(table, examples, "size-pool_size4", "size-pool_size3", RANGE), thresholds["pool_step_min"], ">=",
              "a larger window extends the invariance"),
        Check(f"consistency gain of window 4 over window 2 (stride 2), {rng}",
              *_gain(table, examples, "size-pool_size4", "kind-poolmax", RANGE), thresholds["pool_size_margin"], ">=",
              "a larger window extends the invariance"),
        Check("Zhang (2019) consistency (same class under two random shifts) of blurred over plain max pooling",
              *_pair_gain(table, examples, "kind-poolblurmax", "kind-poolmax"), thresholds["blur_gain_min"], ">=",
              "anti-aliasing (blur before subsampling) makes max pooling more shift invariant"),
    ]
    err, spread = _worst(table, "max_error_untied"), _worst(table, "spread_fraction")
    invariants = [
        Check("max-pool input gradient: largest error vs upstream-at-max, zero elsewhere (worst run)",
              err, err, err, thresholds["subgradient_error_max"], "<=", "the gradient flows only to the maximum"),
        Check("fraction of windows passing gradient to other than one element, ties included (worst run)",
              spread, spread, spread, thresholds["tie_spread_max"], "<=",
              "a tied window still routes its gradient to a single element"),
    ]
    result = decide(evidence, invariants)
    notes = []
    sub = select(table, condition="subgradient", status="ok")
    if len(sub):
        def mean(metric):
            v = sub[sub["metric"] == metric]["value"].to_numpy(dtype=float)
            return float(np.nanmean(v)) if len(v) and np.isfinite(v).any() else float("nan")

        tied, first, zero = mean("tied_fraction"), mean("tied_grad_to_first"), mean("tied_zero_fraction")
        text = (f"Sub-gradient: in the trained nets' first max-pooling layers {tied:.1%} of the windows have a tied "
                f"maximum (mean over runs)")
        if np.isfinite(zero):
            text += f", {zero:.1%} of them with a maximum of 0 (windows of ReLU zeros)"
        text += (f"; the largest share of windows, tied or not, whose gradient reaches other than exactly one element "
                 f"is {spread:.1%}")
        if np.isfinite(first):
            text += (f", and in {first:.1%} of the tied windows the gradient went to the first maximal element in "
                     "row-major order")
        notes.append(text + ".")
    ext = select(summary, condition="shift_mean", metric="invariance_extent_px")
    ext = ext[ext["point"].isin(SIZES)].assign(window=lambda d: d["point"].map(SIZES)).sort_values("window")
    if len(ext):
        notes.append(f"Invariance extent (shift where consistency falls to {EXTENT_LEVEL:g}, px, mean over seeds) by "
                     "window " + ", ".join(f"{int(w)}: {m:.2f}" for w, m in zip(ext["window"], ext["mean"])) + ".")
    est, lo, hi = _gain(table, examples, "kind-poolmax", "kind-poolnone", SMALL)
    if np.isfinite(est):
        notes.append(f"Beside the evidence: max pooling (window 2) over no pooling at all (the head then reads "
                     f"16x32x32 instead of 16x8x8), {small}: {est:+.3f} [{lo:.3f}, {hi:.3f}].")
    undecided = [e["name"] for e in result["evidence"] if e["outcome"] == "inconclusive"]
    if result["verdict"] == "inconclusive" and undecided:
        which = (f"the interval of {undecided[0]} straddles its threshold" if len(undecided) == 1 else
                 f"the intervals of {'; '.join(undecided)} straddle their thresholds")
        notes.append(f"Inconclusive: {which}; more seeds and test digits (scale full) narrow the intervals.")
    failed_inv = [e["name"] for e in result["invariants"] if e["outcome"] != "pass"]
    if failed_inv:
        notes.append(f"Inconclusive: {'; '.join(failed_inv)} did not pass as an invariant, so the measurement "
                     "itself is in doubt.")
    if notes:
        result["note"] = " ".join(notes)
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    pts = KINDS + ["size-pool_size1", "size-pool_size3", "size-pool_size4"]
    s = summary[summary["point"].isin(pts)]

    def col(name, **conds):
        return select(s, **conds).set_index("point")["mean"].rename(name)

    cons = select(s, condition="shifted", metric="consistency")
    wide = cons[cons["shift"].isin([1, 2, 4])].pivot_table(index="point", columns="shift", values="mean")
    wide.columns = [f"consistency @ {int(c)} px" for c in wide.columns]
    out = pd.concat([
        col("test accuracy", condition="test", metric="accuracy"),
        col("accuracy @ 2 px", condition="shifted", metric="accuracy", shift=2),
        wide,
        col("Zhang consistency", condition="shift_pair", metric="consistency"),
        col("extent (px)", condition="shift_mean", metric="invariance_extent_px"),
        col("parameters", condition="final", metric="params").astype(int),
    ], axis=1).reindex(pts)
    meta = s.drop_duplicates("point").set_index("point")[["pool", "pool_size"]].reindex(pts)
    meta["pooling"] = meta["pool"].map(KIND_NAMES).where(meta["pool_size"] != 1, "subsampling (window 1)")
    meta["window"] = meta["pool_size"].astype(int).astype(str).where(meta["pool"] != "none", "-")
    return meta[["pooling", "window"]].join(out).reset_index(drop=True)
