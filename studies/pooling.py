"""pooling: shift consistency of max/avg/strided-conv/blurred-max/no pooling; window size; the max-pool sub-gradient."""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.engine.evaluations import register_evaluation
from convstudies.plots import line_with_ci, new_figure
from convstudies.stats import select, t_interval
from convstudies.verdicts import Check, decide

KINDS = ["kind-poolmax", "kind-poolavg", "kind-poolconv", "kind-poolblurmax", "kind-poolnone"]
KIND_NAMES = {"max": "max pooling", "avg": "average pooling", "conv": "strided conv", "blurmax": "blurred max",
              "none": "no pooling"}
SIZES = {"kind-poolmax": 2, "size-pool_size3": 3, "size-pool_size4": 4}  # window of the first max pool
SMALL = (1, 2)        # "small shifts" of the first check (pixels)
RANGE = (1, 2, 3, 4)  # shifts over which window sizes are compared
EXTENT_LEVEL = 0.9    # invariance extent: the shift at which consistency falls to this level


# ---------------------------------------------------------------- evaluations (torch imported inside)

@register_evaluation
def pool_shift_agreement(model, data, cfg, shifts=(0, 1, 2, 3, 4), directions=("right", "left", "down", "up")):
    """Accuracy and consistency (prediction unchanged w.r.t. the unshifted image) per shift, mean over directions."""
    from convstudies.engine.evaluations import predict
    from convstudies.shifts import DIRECTIONS, translate

    x, y = data.x_test, data.y_test
    ref = predict(model, x).argmax(1)
    rows = []
    for s in shifts:
        acc, cons = [], []
        for d in directions:
            uy, ux = DIRECTIONS[d]
            pred = predict(model, translate(x, uy * s, ux * s)).argmax(1)
            acc.append(float((pred == y).float().mean()))
            cons.append(float((pred == ref).float().mean()))
        rows += [{"condition": "shifted", "shift": s, "metric": "accuracy", "value": float(np.mean(acc))},
                 {"condition": "shifted", "shift": s, "metric": "consistency", "value": float(np.mean(cons))}]
    return rows


def maxpool_gradient_check(act, pool, upstream) -> dict:
    """Backpropagate ``upstream`` through ``pool`` (an nn.MaxPool2d) at input ``act``; compare with the rule.

    The rule: within every (non-overlapping) window the input gradient is the upstream gradient
    at the window's maximum and zero elsewhere. Windows with a tied maximum are reported apart
    (how many elements got gradient, whether it went to the first maximal element in row-major
    order). Input pixels outside every window (when the window does not divide the size) must
    get zero gradient.
    """
    import torch

    k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
    s = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
    if s != k or pool.padding not in (0, (0, 0)) or pool.dilation not in (1, (1, 1)):
        raise ValueError("maxpool_gradient_check handles non-overlapping, unpadded windows only")
    a = act.detach().clone().requires_grad_(True)
    out = pool(a)
    out.backward(upstream)
    grad = a.grad.detach()
    n, c, ho, wo = out.shape
    crop = (slice(None), slice(None), slice(0, ho * k), slice(0, wo * k))

    def windows(t):  # (N, C, Ho, Wo, k*k), row-major inside the window
        return t[crop].unfold(2, k, k).unfold(3, k, k).reshape(n, c, ho, wo, k * k)

    aw, gw = windows(a.detach()), windows(grad)
    is_max = aw == aw.amax(-1, keepdim=True)
    tied = is_max.sum(-1) > 1
    first = is_max.float().argmax(-1)  # argmax returns the first maximal index
    expected = torch.zeros_like(gw).scatter_(-1, first[..., None], upstream[..., None])
    err = (gw - expected).abs().amax(-1)
    nonzero = (gw != 0).sum(-1)
    outside = grad.clone()
    outside[crop] = 0
    return {
        "windows": int(tied.numel()),
        "max_error_untied": float(err[~tied].max()) if (~tied).any() else 0.0,
        "grad_at_max_ratio": float((gw.gather(-1, first[..., None])[..., 0][~tied] / upstream[~tied]).mean()),
        "tied_fraction": float(tied.float().mean()),
        "tied_elements_with_grad": float(nonzero[tied].float().mean()) if tied.any() else float("nan"),
        "tied_grad_to_first": float((err[tied] == 0).float().mean()) if tied.any() else float("nan"),
        "spread_fraction": float((nonzero != 1).float().mean()),
        "outside_grad_max": float(outside.abs().max()),
    }


@register_evaluation
def maxpool_subgradient(model, data, cfg, n_images: int = 200, seed: int = 0):
    """Check the max-pool sub-gradient on the trained net: its first max-pooling layer, its own activations.

    Rows (condition ``subgradient``): the largest error against the rule in untied windows,
    the gradient at the maximum divided by the upstream gradient (1), the fraction of tied
    windows, how many elements a tied window passes gradient to and whether it is the first
    maximal one, the fraction of windows whose gradient reaches other than one element, and
    the largest gradient outside every window. Nets without a max-pooling layer give no rows.
    """
    import torch
    from torch import nn

    blocks = list(getattr(model, "features", []))
    for block in blocks:
        if isinstance(block, nn.Sequential) and isinstance(block[-1], nn.MaxPool2d):
            break
    else:
        return []
    model.eval()
    x = data.x_test[:n_images]
    with torch.no_grad():
        for b in blocks[:blocks.index(block)]:
            x = b(x)
        act = x
        for layer in list(block)[:-1]:
            act = layer(act)
    gen = torch.Generator(device=act.device).manual_seed(seed)
    with torch.no_grad():
        shape = block[-1](act).shape
    upstream = torch.randn(shape, generator=gen, device=act.device)
    upstream = torch.where(upstream == 0, torch.ones_like(upstream), upstream)  # never exactly zero
    res = maxpool_gradient_check(act, block[-1], upstream)
    return [{"condition": "subgradient", "metric": k, "value": float(v)} for k, v in res.items()]


# ---------------------------------------------------------------- table

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


def _paired(table, point_a, point_b, **conds) -> tuple[float, float, float]:
    """Mean and CI of (a - b) over seeds, pairing runs by seed."""
    a = select(table, point=point_a, **conds).set_index("seed")["value"]
    b = select(table, point=point_b, **conds).set_index("seed")["value"]
    return t_interval((a - b).dropna().to_numpy())


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
              *_paired(table, "kind-poolmax", "kind-poolnone", **small), thresholds["small_shift_margin"], ">=",
              "max pooling buys invariance to small shifts"),
        Check("consistency gain of window 3 over window 2, shifts 1-4 px",
              *_paired(table, "size-pool_size3", "kind-poolmax", **rng), thresholds["pool_step_min"], ">=",
              "a larger window extends the invariance"),
        Check("consistency gain of window 4 over window 3, shifts 1-4 px",
              *_paired(table, "size-pool_size4", "size-pool_size3", **rng), thresholds["pool_step_min"], ">=",
              "a larger window extends the invariance"),
        Check("consistency gain of window 4 over window 2, shifts 1-4 px",
              *_paired(table, "size-pool_size4", "kind-poolmax", **rng), thresholds["pool_size_margin"], ">=",
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


# ---------------------------------------------------------------- figures

def _named(df):
    return df.assign(pooling=df["pool"].map(KIND_NAMES))


def consistency_vs_shift(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    line_with_ci(_named(select(summary, condition="shifted", metric="consistency", point=KINDS)), "shift", "pooling", ax)
    ax.set(xlabel="shift of the test digits (pixels)", ylabel="consistency with the unshifted prediction",
           ylim=(0, 1.02), xticks=sorted(table["shift"].dropna().unique()))
    return fig


def accuracy_vs_shift(table: pd.DataFrame, summary: pd.DataFrame):
    fig, ax = new_figure()
    line_with_ci(_named(select(summary, condition="shifted", metric="accuracy", point=KINDS)), "shift", "pooling", ax)
    ax.set(xlabel="shift of the test digits (pixels)", ylabel="test accuracy", ylim=(0, 1.02),
           xticks=sorted(table["shift"].dropna().unique()))
    return fig


def invariance_vs_pool_size(table: pd.DataFrame, summary: pd.DataFrame):
    cons = select(summary, condition="shifted", metric="consistency", point=list(SIZES))
    cons = cons[cons["shift"].isin(RANGE)].assign(window=lambda d: d["point"].map(SIZES),
                                                 test_shift=lambda d: d["shift"].astype(int).astype(str) + " px")
    fig, ax = new_figure()
    line_with_ci(cons.rename(columns={"test_shift": "test shift"}), "window", "test shift", ax)
    ax.set(xlabel="window of the first max-pooling layer", ylabel="consistency with the unshifted prediction",
           ylim=(0, 1.02), xticks=sorted(SIZES.values()))
    return fig
