"""conv_hparams: one-factor sweeps of kernel size, filters, stride and padding; cost, shapes, position probe."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convstudies.engine.evaluations import register_evaluation
from convstudies.plots import new_figure
from convstudies.stats import select, t_interval
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


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _layers(model):
    """(name, module, kind) for every conv and pooling layer, in forward order, named conv1, pool1, ..."""
    from torch import nn

    out, counts = [], {"conv": 0, "pool": 0}
    for name, mod in model.named_modules():
        kind = ("conv" if isinstance(mod, nn.Conv2d) else
                "pool" if isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)) else None)
        if kind:
            counts[kind] += 1
            out.append((f"{kind}{counts[kind]}", name, mod, kind))
    return out


def _trace(model, x):
    """Input and output shapes of every conv/pooling layer for one forward pass (forward hooks)."""
    import torch

    shapes, hooks = {}, []
    for label, _, mod, _ in _layers(model):
        hooks.append(mod.register_forward_hook(
            lambda m, inp, out, label=label: shapes.__setitem__(label, (tuple(inp[0].shape), tuple(out.shape)))))
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return shapes


# ---------------------------------------------------------------- evaluations (torch imported inside)

@register_evaluation
def feature_map_sizes(model, data, cfg):
    """Per conv/pooling layer: measured output height/width (forward hooks) and floor((n + 2p - k) / s) + 1.

    Rows (condition ``layer``, column ``layer``): in_size, out_size, out_size_formula, kernel,
    stride, padding, and ``mismatch`` (1 when height or width differs from the formula). A
    mismatch is also printed to the job log.
    """
    shapes = _trace(model, data.x_test[:1])
    rows = []
    for label, _, mod, kind in _layers(model):
        (_, _, h, w), (_, _, ho, wo) = shapes[label]
        k, s = _pair(mod.kernel_size), _pair(mod.stride if mod.stride is not None else mod.kernel_size)
        p = _pair(mod.padding) if not isinstance(mod.padding, str) else (0, 0)
        d = _pair(getattr(mod, "dilation", 1))
        want = (conv_out_size(h, k[0], s[0], p[0], d[0]), conv_out_size(w, k[1], s[1], p[1], d[1]))
        mismatch = int((ho, wo) != want)
        if mismatch:
            print(f"[conv_hparams] SHAPE MISMATCH {label}: in {h}x{w}, k={k}, s={s}, p={p}: "
                  f"measured {ho}x{wo}, formula {want[0]}x{want[1]}", flush=True)
        for metric, v in (("in_size", h), ("out_size", ho), ("out_size_formula", want[0]), ("out_width", wo),
                          ("out_width_formula", want[1]), ("kernel", k[0]), ("stride", s[0]), ("padding", p[0]),
                          ("mismatch", mismatch)):
            rows.append({"condition": "layer", "layer": label, "metric": metric, "value": float(v)})
    return rows


@register_evaluation
def flops(model, data, cfg):
    """Forward FLOPs for one image from torch.utils.flop_counter.FlopCounterMode, total and per conv layer.

    Rows: condition ``cost`` (metric ``flops``: the whole net; ``conv_flops``: every conv layer),
    and condition ``layer`` per conv layer (``flops`` measured, ``flops_formula``
    = 2 k^2 C_in C_out H_out W_out, ``params``).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = data.x_test[:1]
    shapes = _trace(model, x)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    per_module = {k.split(".", 1)[1] if "." in k else k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    rows, conv_total = [], 0
    for label, name, mod, kind in _layers(model):
        if kind != "conv":
            continue
        measured = float(per_module.get(name, 0))
        formula = conv_flops(mod.in_channels, mod.out_channels, mod.kernel_size, shapes[label][1][2:], mod.groups)
        conv_total += measured
        rows += [{"condition": "layer", "layer": label, "metric": "flops", "value": measured},
                 {"condition": "layer", "layer": label, "metric": "flops_formula", "value": float(formula)},
                 {"condition": "layer", "layer": label, "metric": "params",
                  "value": float(sum(p.numel() for p in mod.parameters()))}]
    rows += [{"condition": "cost", "metric": "flops", "value": float(counter.get_total_flops())},
             {"condition": "cost", "metric": "conv_flops", "value": float(conv_total)}]
    return rows


@register_evaluation
def inference_throughput(model, data, cfg, batch_size: int = 500, repeats: int = 3):
    """Test images per second in eval mode (best of ``repeats`` passes over the test split, after a warm-up)."""
    import time

    from convstudies.engine.evaluations import predict

    x = data.x_test
    predict(model, x[:batch_size], batch_size)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(model, x, batch_size)
        best = min(best, time.perf_counter() - t0)
    return [{"condition": "throughput", "metric": "inference_images_per_s", "value": len(x) / best}]


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
        a = g[g["setting"] == best].set_index("seed")["value"]
        b = g[g["setting"] == worst].set_index("seed")["value"]
        m, lo, hi = t_interval((a - b).dropna().to_numpy())
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


# ---------------------------------------------------------------- figures

def _errorbar(ax, g, x, **kw):
    ax.errorbar(g[x], g["mean"], yerr=[g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]], capsize=3, **kw)


def accuracy_vs_factor(table: pd.DataFrame, summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    acc = sweep_rows(select(summary, condition="test", metric="accuracy"))
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), sharey=True)
    for ax, (factor, (_, points)) in zip(axes, SWEEPS.items()):
        g = acc[acc["factor"] == factor].set_index("setting").loc[[str(s) for s, _ in points]].reset_index()
        g = g.fillna({"ci_low": g["mean"], "ci_high": g["mean"]})
        _errorbar(ax, g, "setting", marker="o")
        ax.set(xlabel=factor, title=factor)
    lo, hi = axes[0].get_ylim()
    axes[0].set(ylabel="test accuracy", ylim=(max(lo, 0), min(hi, 1.02)))
    fig.tight_layout()
    return fig


def cost_vs_factor(table: pd.DataFrame, summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    s = sweep_rows(summary)
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), sharey=True)
    for ax, (factor, (_, points)) in zip(axes, SWEEPS.items()):
        order = [str(v) for v, _ in points]
        for metric, cond, style, label in (("flops", "cost", "-o", "FLOPs"), ("params", "final", "--s", "parameters")):
            g = select(s, factor=factor, condition=cond, metric=metric).set_index("setting").loc[order]
            ax.plot(order, g["mean"], style, label=label)
        ax.set(yscale="log", xlabel=factor, title=factor)
    axes[0].set_ylabel("per image (log scale)")
    axes[0].legend()
    fig.tight_layout()
    return fig


SHORT = {"kernel size": "k={}", "filters": "f={}", "stride": "s={}", "padding": "{}"}


def accuracy_vs_flops(table: pd.DataFrame, summary: pd.DataFrame):
    import seaborn as sns

    s = sweep_rows(summary)
    acc = select(s, condition="test", metric="accuracy")
    fl = select(s, condition="cost", metric="flops")[["factor", "setting", "mean"]].rename(columns={"mean": "flops"})
    d = acc.merge(fl, on=["factor", "setting"])
    d = d.fillna({"ci_low": d["mean"], "ci_high": d["mean"]})
    fig, ax = new_figure(6.2, 4)
    palette = dict(zip(["base"] + list(SWEEPS), sns.color_palette(n_colors=len(SWEEPS) + 1)))
    base = d[d["point"] == BASE].iloc[:1]
    _errorbar(ax, base, "flops", fmt="s", color=palette["base"], label="base (k=3, f=8, s=1, zeros)", zorder=5,
              markersize=7)
    ax.annotate("base", (base["flops"].iloc[0], base["mean"].iloc[0]), textcoords="offset points", xytext=(-8, 6),
                ha="right", fontsize=7, color=palette["base"])
    for factor, g in d[d["point"] != BASE].groupby("factor", sort=False):
        _errorbar(ax, g, "flops", fmt="o", color=palette[factor], label=factor)
        for i, r in enumerate(g.itertuples()):
            same_x = (g["flops"] == r.flops).cumsum().iloc[i] - 1  # stagger labels of equal-cost settings
            ax.annotate(SHORT[factor].format(r.setting), (r.flops, r.mean), textcoords="offset points",
                        xytext=(5, 3 - 9 * same_x), fontsize=7, color=palette[factor])
    lo, hi = ax.get_ylim()
    ax.set(xscale="log", xlabel="forward FLOPs per image", ylabel="test accuracy", ylim=(max(lo, 0), min(hi, 1.02)))
    ax.legend(title="factor changed", fontsize=7, title_fontsize=8)
    return fig


def position_probe(table: pd.DataFrame, summary: pd.DataFrame):
    acc = select(summary, condition="test", metric="accuracy", point=list(PROBE.values()))
    acc = acc.set_index("point").loc[[p for p in PROBE.values() if p in set(acc["point"])]].reset_index()
    acc["padding"] = acc["point"].str.replace("probe-padding_mode", "", regex=False)
    acc = acc.fillna({"ci_low": acc["mean"], "ci_high": acc["mean"]})
    fig, ax = new_figure(5, 3.4)
    ax.bar(acc["padding"], acc["mean"], yerr=[acc["mean"] - acc["ci_low"], acc["ci_high"] - acc["mean"]],
           capsize=4, color="tab:blue", alpha=0.8)
    for i, m in enumerate(acc["mean"]):
        ax.annotate(f"{m:.2f}", (i, m), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.axhline(PROBE_CHANCE, ls="--", color="k", lw=1, label="chance (4 quadrants)")
    ax.set(ylim=(0, 1.15), xlabel="padding mode", ylabel="quadrant accuracy (test)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    return fig
