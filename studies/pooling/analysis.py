"""pooling: shift consistency of max/avg/strided-conv/blurred-max/no pooling; window size; the max-pool sub-gradient.

Tables, verdict and key table (pandas only); evaluations in ``evaluations.py``, figures in ``figures.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.stats import paired, select, t_interval
from convstudies.verdicts import Check, decide

KINDS = ["kind-poolmax", "kind-poolavg", "kind-poolconv", "kind-poolblurmax", "kind-poolnone"]
KIND_NAMES = {"max": "max pooling", "avg": "average pooling", "conv": "strided conv", "blurmax": "blurred max",
              "none": "no pooling"}
SIZES = {"kind-poolmax": 2, "size-pool_size3": 3, "size-pool_size4": 4}  # window of the first max pool
SMALL = (1, 2)        # "small shifts" of the first check (pixels)
RANGE = (1, 2, 3, 4)  # shifts over which window sizes are compared
EXTENT_LEVEL = 0.9    # invariance extent: the shift at which consistency falls to this level


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Per run: consistency averaged over small shifts (1-2 px) and over 1-4 px; the invariance extent."""
    cons = select(table, condition="shifted", metric="consistency")
    if cons.empty:
        return table
    keys = [c for c in table.columns if c not in ("shift", "value", "metric", "condition")]
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


def _over_runs(table, metric, agg="max") -> tuple[float, float, float]:
    """A sub-gradient metric over every max-pooling run: (estimate, CI) from the per-run values."""
    v = select(table, condition="subgradient", metric=metric)["value"].to_numpy(dtype=float)
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    if agg == "max":  # a worst case: the estimate and both bounds are the largest value seen
        m = float(np.max(v))
        return m, m, m
    return t_interval(v)


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    small = dict(condition="shift_mean", metric="consistency_1_2px")
    rng = dict(condition="shift_mean", metric="consistency_1_4px")
    checks = [
        Check("consistency gain of max pooling (window 2) over no pooling, shifts 1-2 px",
              *paired(table, "kind-poolmax", "kind-poolnone", **small), thresholds["small_shift_margin"], ">=",
              "max pooling buys invariance to small shifts"),
        Check("consistency gain of window 3 over window 2, shifts 1-4 px",
              *paired(table, "size-pool_size3", "kind-poolmax", **rng), thresholds["pool_step_min"], ">=",
              "a larger window extends the invariance"),
        Check("consistency gain of window 4 over window 3, shifts 1-4 px",
              *paired(table, "size-pool_size4", "size-pool_size3", **rng), thresholds["pool_step_min"], ">=",
              "a larger window extends the invariance"),
        Check("consistency gain of window 4 over window 2, shifts 1-4 px",
              *paired(table, "size-pool_size4", "kind-poolmax", **rng), thresholds["pool_size_margin"], ">=",
              "a larger window extends the invariance"),
        Check("max-pool input gradient: largest error vs upstream-at-max, zero elsewhere (worst run)",
              *_over_runs(table, "max_error_untied"), thresholds["subgradient_error_max"], "<=",
              "the gradient flows only to the maximum"),
        Check("fraction of windows passing gradient to other than one element, ties included (worst run)",
              *_over_runs(table, "spread_fraction"), thresholds["tie_spread_max"], "<=",
              "a tied window still routes its gradient to a single element"),
    ]
    result = decide(checks)
    notes = []
    tied = select(table, condition="subgradient", metric="tied_fraction")["value"]
    first = select(table, condition="subgradient", metric="tied_grad_to_first")["value"]
    if len(tied):
        notes.append(f"Sub-gradient: in the trained nets' max-pooling layers {tied.mean():.1%} of the windows have a "
                     f"tied maximum (mostly windows of ReLU zeros); PyTorch gives each such window's whole gradient "
                     f"to one element, the first maximal one in row-major order in {first.mean():.1%} of them.")
    ext = select(summary, condition="shift_mean", metric="invariance_extent_px")
    ext = ext[ext["point"].isin(SIZES)].assign(window=lambda d: d["point"].map(SIZES)).sort_values("window")
    if len(ext):
        notes.append(f"Invariance extent (shift where consistency falls to {EXTENT_LEVEL:g}, px) by window "
                     + ", ".join(f"{int(w)}: {m:.2f}" for w, m in zip(ext["window"], ext["mean"]))
                     + ".")
    if result["verdict"] == "inconclusive":
        notes.append("Inconclusive: some CI straddles its threshold; more seeds (scale full) would decide.")
    if notes:
        result["note"] = " ".join(notes)
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    pts = KINDS + ["size-pool_size3", "size-pool_size4"]
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
        col("extent (px)", condition="shift_mean", metric="invariance_extent_px"),
        col("parameters", condition="final", metric="params").astype(int),
    ], axis=1).reindex(pts)
    meta = s.drop_duplicates("point").set_index("point")[["pool", "pool_size"]]
    meta["pooling"] = meta["pool"].map(KIND_NAMES)
    meta["window (block 1)"] = meta["pool_size"].astype(int).astype(str).where(meta["pool"] != "none", "-")
    return meta[["pooling", "window (block 1)"]].join(out).reset_index(drop=True)
