"""conv_hparams: one-factor sweeps of kernel size, filters, stride and padding; cost, shapes, position probe.

Pandas only: the sweep layout, the shape and FLOPs formulas (used by evaluations.py too), the verdict
and the key table.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convstudies.stats import paired_interval, select, t_interval
from convstudies.verdicts import Check, decide

BASE = "kernel-kernel3"
# factor -> (model key, [(setting, point)]) in sweep order; the base runs belong to every sweep
SWEEPS = {
    "kernel size": ("kernel", [(1, "kernel-kernel1"), (3, BASE), (5, "kernel-kernel5"), (7, "kernel-kernel7")]),
    "filters": ("filters", [(2, "filters-filters2"), (4, "filters-filters4"), (8, BASE), (16, "filters-filters16")]),
    "stride": ("stride", [(1, BASE), (2, "stride-stride2"), (3, "stride-stride3")]),
    "padding": ("padding_mode", [("zeros", BASE), ("reflect", "padding-padding_modereflect"),
                                 ("circular", "padding-padding_modecircular"), ("none", "padding-padding_modenone")]),
}
PROBE = {m: f"probe-padding_mode{m}" for m in ("zeros", "reflect", "circular", "none")}
PROBE_CHANCE = 0.25


# ---------------------------------------------------------------- formulas

def conv_out_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """floor((n + 2p - d(k - 1) - 1) / s) + 1, i.e. floor((n + 2p - k) / s) + 1 for dilation 1."""
    return math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1


def conv_flops(c_in: int, c_out: int, k: int | tuple, out_hw: tuple, groups: int = 1) -> int:
    """Forward FLOPs of a conv layer for one image: 2 (multiply + add) x k^2 x C_in/groups x C_out x H_out x W_out."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return 2 * (c_in // groups) * kh * kw * c_out * math.prod(out_hw)


# ---------------------------------------------------------------- tables

def sweep_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of every sweep point, with columns ``factor`` and ``setting`` (base runs in every sweep)."""
    parts = []
    for factor, (_, points) in SWEEPS.items():
        for setting, point in points:
            parts.append(df[df["point"] == point].assign(factor=factor, setting=str(setting)))
    return pd.concat(parts, ignore_index=True) if parts else df.iloc[:0]


def _worst(table, condition, metric, fn=np.nanmax):
    v = select(table, condition=condition, metric=metric)["value"].to_numpy(dtype=float)
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    m = float(fn(v))
    return m, m, m


def flops_rel_error(table: pd.DataFrame) -> float:
    """Largest |measured - formula| / formula over every conv layer of every run."""
    lay = select(table, condition="layer", metric=["flops", "flops_formula"])
    if lay.empty:
        return np.nan
    wide = lay.pivot_table(index=["point", "run", "layer"], columns="metric", values="value")
    return float(((wide["flops"] - wide["flops_formula"]).abs() / wide["flops_formula"]).max())


def layer_flops(summary: pd.DataFrame, point: str, layer: str) -> float:
    rows = select(summary, point=point, condition="layer", metric="flops", layer=layer)
    return float(rows["mean"].iloc[0]) if len(rows) else np.nan


def scaling_exponents(summary: pd.DataFrame) -> pd.DataFrame:
    """Log-log slopes of per-layer conv FLOPs against kernel size and filters, with the exponents expected."""
    out = []
    for factor, layer, expected in (("kernel size", "conv1", 2), ("kernel size", "conv2", 2),
                                    ("filters", "conv1", 1), ("filters", "conv2", 2)):
        pts = SWEEPS[factor][1]
        xs = np.array([float(s) for s, _ in pts])
        ys = np.array([layer_flops(summary, p, layer) for _, p in pts])
        ok = np.isfinite(ys) & (ys > 0)
        slope = float(np.polyfit(np.log(xs[ok]), np.log(ys[ok]), 1)[0]) if ok.sum() >= 2 else np.nan
        out.append({"factor": factor, "layer": layer, "slope": slope, "expected": expected})
    return pd.DataFrame(out)


def accuracy_ranges(table: pd.DataFrame) -> pd.DataFrame:
    """Per factor: best minus worst setting's test accuracy (settings ranked by mean), paired by seed, with CI."""
    acc = sweep_rows(select(table, condition="test", metric="accuracy"))
    out = []
    for factor, g in acc.groupby("factor", sort=False):
        means = g.groupby("setting")["value"].mean()
        best, worst = means.idxmax(), means.idxmin()
        m, lo, hi = paired_interval(g, {"setting": best}, {"setting": worst})
        out.append({"factor": factor, "best": best, "worst": worst, "range": m, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out)


def _probe(table, mode):
    v = select(table, point=PROBE[mode], condition="test", metric="accuracy")["value"].to_numpy(dtype=float)
    return t_interval(v - PROBE_CHANCE)


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    exps = scaling_exponents(summary)
    dev = (exps["slope"] - exps["expected"]).abs()
    worst_exp = exps.loc[dev.idxmax()] if dev.notna().any() else None
    s1, s2 = layer_flops(summary, BASE, "conv1"), layer_flops(summary, "stride-stride2", "conv1")
    ranges = accuracy_ranges(table).sort_values("range", ascending=False).reset_index(drop=True)
    second = ranges.iloc[1] if len(ranges) >= 2 else None
    checks = [
        Check("feature-map size vs floor((n + 2p - k) / s) + 1: mismatching layers (all runs)",
              *_worst(table, "layer", "mismatch", np.nansum), thresholds["shape_mismatch_max"], "<=",
              "the output-size formula holds for every conv and pooling layer"),
        Check("measured conv FLOPs vs 2 k^2 C_in C_out H_out W_out: largest relative error",
              *([flops_rel_error(table)] * 3), thresholds["flops_rel_error_max"], "<="),
        Check("FLOPs scaling exponents (k^2 per layer; filters^1 layer 1, filters^2 layer 2): largest |slope - "
              f"expected|{'' if worst_exp is None else f' ({worst_exp.factor}, {worst_exp.layer})'}",
              *([float(dev.max())] * 3), thresholds["exponent_tolerance"], "<="),
        Check("stride 2 cuts first-layer FLOPs (ratio stride 1 / stride 2) at least", *([s1 / s2] * 3),
              thresholds["stride2_ratio_min"], ">="),
        Check("stride 2 cuts first-layer FLOPs (ratio stride 1 / stride 2) at most", *([s1 / s2] * 3),
              thresholds["stride2_ratio_max"], "<="),
        Check("second-largest test-accuracy range over the four sweeps"
              + ("" if second is None else f" ({second.factor}: {second.best} vs {second.worst})"),
              *((second["range"], second["ci_low"], second["ci_high"]) if second is not None else (np.nan,) * 3),
              thresholds["acc_range_min"], ">=", "at least two of the factors matter for accuracy"),
        Check("position probe, zero padding: accuracy above chance", *_probe(table, "zeros"),
              thresholds["zeros_leak_min"], ">=", "zero padding leaks absolute position"),
        Check("position probe, circular padding: accuracy above chance", *_probe(table, "circular"),
              thresholds["circular_leak_max"], "<=", "circular padding keeps the net translation invariant"),
    ]
    result = decide(checks)
    notes = ["Accuracy range per factor (best - worst setting, paired by seed): " + "; ".join(
        f"{r.factor} {r.range:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] ({r.best} vs {r.worst})"
        for r in ranges.itertuples()) + "."]
    probe = select(summary, condition="test", metric="accuracy", point=list(PROBE.values()))
    if len(probe):
        notes.append("Position probe accuracy (chance 0.25): " + ", ".join(
            f"{m} {r['mean']:.3f}" for m, p in PROBE.items() for _, r in probe[probe["point"] == p].iterrows()) + ".")
    if result["verdict"] == "inconclusive":
        notes.append("Inconclusive: a CI straddles its threshold; more seeds (scale full) would decide.")
    result["note"] = " ".join(notes)
    return result


def _final_size(summary, point):
    """Height of the last feature map (rows keep the forward order of the layers)."""
    rows = select(summary, point=point, condition="layer", metric="out_size")
    return int(rows["mean"].iloc[-1]) if len(rows) else np.nan


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    s = sweep_rows(summary)
    rows = []
    for (factor, setting, point), g in s.groupby(["factor", "setting", "point"], sort=False):
        def val(condition, metric):
            v = select(g, condition=condition, metric=metric)["mean"]
            return float(v.iloc[0]) if len(v) else np.nan
        rows.append({"factor": factor, "setting": setting, "test accuracy": val("test", "accuracy"),
                     "parameters": int(val("final", "params")), "MFLOPs": val("cost", "flops") / 1e6,
                     "last map": _final_size(summary, point),
                     "train img/s": val("final", "train_images_per_s"),
                     "inference img/s": val("throughput", "inference_images_per_s")})
    probe = select(summary, condition="test", metric="accuracy", point=list(PROBE.values()))
    for m, p in PROBE.items():
        r = probe[probe["point"] == p]
        if len(r):
            rows.append({"factor": "position probe", "setting": m, "test accuracy": float(r["mean"].iloc[0]),
                         "parameters": int(select(summary, point=p, condition="final", metric="params")["mean"].iloc[0]),
                         "last map": _final_size(summary, p)})
    return pd.DataFrame(rows)
