"""conv_hparams: one-factor sweeps of kernel size, filters, stride and padding; cost, shapes, position probe.

Pandas only: the sweep layout, the shape and FLOPs formulas (used by evaluations.py too), the verdict
and the key table.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference, two_way_interval
from convstudies.stats import example_matrix, select
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


def _ok_seeds(table: pd.DataFrame, points) -> list:
    """Seeds whose runs finished (status ok) at every one of ``points``: the seeds arms are paired on."""
    return sorted(set.intersection(*(set(select(table, point=p, status="ok")["seed"]) for p in points)))


def _test_matrix(table: pd.DataFrame, examples: dict, point: str, seeds) -> np.ndarray:
    """(seeds, test examples) correctness of ``point``'s runs on ``seeds``."""
    return example_matrix(table[table["seed"].isin(seeds)], examples, point=point, condition="test",
                          metric="accuracy", status="ok")


def accuracy_ranges(table: pd.DataFrame, examples: dict) -> pd.DataFrame:
    """Per factor: test accuracy of the best minus the worst setting, both chosen on validation accuracy
    (mean over seeds of the final-epoch ``val_acc``), paired on seeds and test digits (two-way interval)."""
    val = sweep_rows(select(table, condition="final", metric="val_acc", status="ok"))
    out = []
    for factor, (_, settings) in SWEEPS.items():
        means = val[val["factor"] == factor].groupby("setting")["value"].mean()
        if len(means) < 2:
            continue
        best, worst = means.idxmax(), means.idxmin()
        point = {str(s): p for s, p in settings}
        seeds = _ok_seeds(table, [point[best], point[worst]])
        m, lo, hi = paired_difference(_test_matrix(table, examples, point[best], seeds),
                                      _test_matrix(table, examples, point[worst], seeds))
        out.append({"factor": factor, "best": best, "worst": worst, "val_best": float(means[best]),
                    "val_worst": float(means[worst]), "range": m, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out, columns=["factor", "best", "worst", "val_best", "val_worst", "range", "ci_low",
                                      "ci_high"])


def second_largest(ranges: pd.DataFrame) -> tuple[float, float, float]:
    """Second-largest estimate, lower and upper bound over the factors (each taken separately).

    At least two factors clear a threshold with their whole interval exactly when the second-
    largest lower bound does, and at most one can reach it exactly when the second-largest upper
    bound falls below it, so this check decides "at least two factors matter" without ranking
    the factors by their test numbers.
    """
    if len(ranges) < 2:
        return np.nan, np.nan, np.nan
    return tuple(float(np.sort(ranges[c].to_numpy(dtype=float))[-2]) for c in ("range", "ci_low", "ci_high"))


def _probe(table, examples, mode):
    """Probe accuracy minus chance: two-way interval over seeds and the probe's test images."""
    point = PROBE[mode]
    m, lo, hi = two_way_interval(_test_matrix(table, examples, point, _ok_seeds(table, [point])))
    return m - PROBE_CHANCE, lo - PROBE_CHANCE, hi - PROBE_CHANCE


def _fmt(c: Check) -> str:
    return f"{c.name}: {c.estimate:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}] against {c.threshold}"


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    exps = scaling_exponents(summary)
    dev = (exps["slope"] - exps["expected"]).abs()
    worst_exp = exps.loc[dev.idxmax()] if dev.notna().any() else None
    s1, s2 = layer_flops(summary, BASE, "conv1"), layer_flops(summary, "stride-stride2", "conv1")
    ranges = accuracy_ranges(table, examples)
    both = "95 % interval over seeds and test images (two-way)"
    evidence = [
        Check("second-largest test-accuracy range over the four sweeps (best vs worst setting selected on "
              "validation; second-largest of the factors' estimates and of their bounds)",
              *second_largest(ranges), thresholds["acc_range_min"], ">=",
              f"at least two of the factors matter for accuracy; each factor's range paired on seeds and test "
              f"digits, {both}"),
        Check("position probe, zero padding: accuracy above chance", *_probe(table, examples, "zeros"),
              thresholds["zeros_leak_min"], ">=", f"zero padding leaks absolute position; {both}"),
        Check("position probe, circular padding: accuracy above chance", *_probe(table, examples, "circular"),
              thresholds["circular_leak_max"], "<=",
              f"circular padding keeps the net translation invariant; {both}"),
    ]
    invariants = [
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
    ]
    result = decide(evidence, invariants)
    notes = ["Test-accuracy range per factor (best - worst setting, both selected on validation accuracy; paired "
             "on seeds and test digits): " + "; ".join(
                 f"{r.factor} {r.range:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] ({r.best} vs {r.worst}, validation "
                 f"{r.val_best:.3f} vs {r.val_worst:.3f})" for r in ranges.itertuples()) + "."]
    probe = select(summary, condition="test", metric="accuracy", point=list(PROBE.values()))
    if len(probe):
        notes.append("Position probe accuracy (chance 0.25): " + ", ".join(
            f"{m} {r['mean']:.3f}" for m, p in PROBE.items() for _, r in probe[probe["point"] == p].iterrows()) + ".")
    undecided = [c for c, e in zip(evidence, result["evidence"]) if e["outcome"] == "inconclusive"]
    failed_inv = [c for c, e in zip(invariants, result["invariants"]) if e["outcome"] != "pass"]
    if undecided:
        notes.append("Inconclusive evidence (interval across the threshold): " + "; ".join(map(_fmt, undecided))
                     + ".")
    if failed_inv:
        notes.append("Invariants that do not hold (the measurement is in doubt): " + "; ".join(map(_fmt, failed_inv))
                     + ".")
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
