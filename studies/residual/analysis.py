"""residual: tables and verdict (pandas only) for plain vs residual CIFAR-style nets over depth.

Evidence: training-set losses and the gradient-norm spread at initialisation involve no test
set, so their intervals are seed t-intervals of per-seed values (paired by seed); the test
accuracy gain counts seeds and test examples (paired on both). Invariants: option A shortcuts
add no parameters, every net reports one gradient norm per weighted layer (6n+2 of them), and
every run's training loss has converged (per-epoch history: the last 10 % of epochs against the
10 % before), so that the losses compared are where training ends, not how fast it starts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference, seed_interval
from convstudies.stats import paired_matrices, per_seed, select
from convstudies.verdicts import Check, decide

# He et al. (2016), table 6: CIFAR-10 test error (%) of the residual nets (110: the best of 5 runs).
PAPER_RESNET_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}
PAPER_RESNET110_MEAN = 6.61  # table 6: mean of the 5 runs of ResNet-110 (std 0.16)
CONVERGENCE_WINDOW = 0.1  # the last 10 % of the epochs, against the 10 % before


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add log10 gradient norms per run and layer: norms span decades, so their CIs are taken on logs."""
    g = select(table, metric="grad_norm")
    if g.empty:
        return table
    logs = g.assign(metric="log10_grad_norm", value=np.log10(g["value"].astype(float).clip(lower=1e-30)))
    return pd.concat([table, logs], ignore_index=True)


def depths(summary: pd.DataFrame) -> tuple[int, int]:
    """Shallowest and deepest depth run for both plain and residual nets."""
    common = set(select(summary, net="plain")["depth"].dropna()) & set(select(summary, net="residual")["depth"].dropna())
    if not common:
        raise ValueError("no depth was run for both plain and residual nets")
    return int(min(common)), int(max(common))


def seed_difference(table: pd.DataFrame, a: dict, b: dict) -> tuple[float, float, float]:
    """Mean and 95 % t-interval over seeds of (a - b), paired by seed: for quantities without a
    test set (losses on the training set, gradient norms on a training batch)."""
    return seed_interval((per_seed(table, **a) - per_seed(table, **b)).dropna().to_numpy())


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    table = table[table["status"] == "ok"]
    lo, hi = depths(summary)
    loss = dict(condition="train", metric="loss")
    acc = dict(condition="test", metric="accuracy")
    spread = dict(condition="grad_init", metric="grad_spread")
    evidence = [
        Check(f"plain nets: training loss at {hi} minus {lo} layers (seed t-interval; training set)",
              *seed_difference(table, dict(net="plain", depth=hi, **loss), dict(net="plain", depth=lo, **loss)),
              thresholds["plain_degradation_min"], ">=", "a deeper plain net trains worse (degradation)"),
        Check(f"residual nets: training loss at {hi} minus {lo} layers (seed t-interval; training set)",
              *seed_difference(table, dict(net="residual", depth=hi, **loss), dict(net="residual", depth=lo, **loss)),
              thresholds["residual_degradation_max"], "<=", "a deeper residual net trains at least as well"),
        Check(f"test accuracy at {hi} layers: residual minus plain (paired on seeds and test examples)",
              *paired_difference(*paired_matrices(table, examples, dict(net="residual", depth=hi, **acc),
                                                  dict(net="plain", depth=hi, **acc))),
              thresholds["residual_gain_min"], ">=", "shortcuts make the deep net usable"),
        Check(f"gradient-norm spread at init, {hi} layers: plain minus residual (decades; seed t-interval)",
              *seed_difference(table, dict(net="plain", depth=hi, **spread), dict(net="residual", depth=hi, **spread)),
              thresholds["grad_spread_gap_min"], ">=", "shortcuts keep gradients even across layers"),
    ]
    result = decide(evidence, invariants(table, thresholds))
    result["note"] = _note(summary, lo, hi, table, thresholds)
    return result


def convergence(table: pd.DataFrame, window: float = CONVERGENCE_WINDOW) -> pd.DataFrame:
    """Per run (net, depth, seed): the mean per-epoch training loss over the last ``window`` of the
    epochs (``last``) and over as many epochs before them (``before``), their difference ``drop``
    and the relative change ``rel`` = |before - last| / before. Means over a window, not single
    epochs: one epoch's loss is a mean over its batches, noisy by several per cent for deep plain
    nets even at the smallest learning rate. NaN where a run has fewer than two windows of epochs."""
    h = select(table, condition="epoch", metric="train_loss")
    rows = []
    for (net, depth, seed), g in h.groupby(["net", "depth", "seed"]):
        v = g.sort_values("epoch")["value"].to_numpy(dtype=float)
        k = max(1, int(round(window * len(v))))
        before, last = (v[-2 * k:-k].mean(), v[-k:].mean()) if len(v) >= 2 * k else (np.nan, np.nan)
        rows.append({"net": net, "depth": depth, "seed": seed, "epochs": len(v), "window": k, "before": before,
                     "last": last, "drop": before - last, "rel": abs(before - last) / before if before > 0 else np.nan})
    return pd.DataFrame(rows, columns=["net", "depth", "seed", "epochs", "window", "before", "last", "drop", "rel"])


def converged(conv: pd.DataFrame, thresholds: dict) -> pd.Series:
    """A run has converged when its windowed training loss changed by at most ``convergence_rel_max``
    (relative) or at most ``convergence_abs_max`` nats (a loss near zero, whose relative changes are noise)."""
    return (conv["rel"] <= thresholds["convergence_rel_max"]) | (conv["drop"].abs() <= thresholds["convergence_abs_max"])


def invariants(table: pd.DataFrame, thresholds: dict | None = None) -> list[Check]:
    """Exact properties of the nets, read from the runs: equal parameter counts with and without
    (parameter-free, option A) shortcuts, and one gradient norm per weighted layer (depth of them)."""
    out = []
    params = select(table, condition="final", metric="params")
    if not params.empty and {"plain", "residual"} <= set(params["net"]):
        by_depth = params.groupby("depth")["value"]
        dev = float((by_depth.max() - by_depth.min()).max())
        out.append(Check("parameter count of the nets of one depth, plain and residual, all seeds: max minus min",
                         dev, dev, dev, 0.0, "<=", "option A shortcuts are parameter-free: the nets differ only by the additions"))
    norms = select(table, condition="grad_init", metric="grad_norm")
    if not norms.empty:
        counts = norms.groupby(["net", "depth", "seed"]).size().reset_index(name="layers")
        dev = float((counts["layers"] - counts["depth"]).abs().max())
        out.append(Check("weighted layers with a gradient norm minus depth (max abs difference over runs)",
                         dev, dev, dev, 0.0, "<=", "a 6n+2 net has 6n+2 weighted layers: stem, 6n convolutions, FC"))
    if thresholds is not None and "convergence_rel_max" in thresholds:
        conv = convergence(table)
        if not conv.empty:
            bad = float((~converged(conv, thresholds)).sum())
            out.append(Check(
                f"runs whose training loss had not converged (mean per-epoch loss of the last "
                f"{CONVERGENCE_WINDOW:.0%} of epochs vs the {CONVERGENCE_WINDOW:.0%} before: changed by more than "
                f"{thresholds['convergence_rel_max']:.0%} and more than {thresholds['convergence_abs_max']:g} nats), "
                f"of {len(conv)}", bad, bad, bad, 0.0, "<=",
                "every net is compared where its training ends (converged), not by how fast it starts"))
    return out


def first_last_ratio(summary: pd.DataFrame, condition: str, net: str, depth: int) -> tuple[float, float] | None:
    """Geometric-mean gradient norm (over seeds) at the first and the last convolution."""
    g = select(summary, condition=condition, metric="log10_grad_norm", kind="conv", net=net, depth=depth)
    if g.empty:
        return None
    g = g.sort_values("layer")
    return 10 ** float(g["mean"].iloc[0]), 10 ** float(g["mean"].iloc[-1])


def _direction(first: float, last: float) -> str:
    if first > last:
        return "grow towards the input"
    return "shrink towards the input" if first < last else "are equal at both ends"


def residual_errors(table: pd.DataFrame) -> pd.DataFrame:
    """Test error (%) of the residual nets per depth: mean and best over seeds, and the number of seeds."""
    acc = select(table, net="residual", condition="test", metric="accuracy")
    if acc.empty:
        return pd.DataFrame(columns=["depth", "mean", "best", "seeds"])
    err = acc.assign(error=100 * (1 - acc["value"].astype(float)))
    out = err.groupby("depth")["error"].agg(mean="mean", best="min", seeds="count").reset_index()
    out["depth"] = out["depth"].astype(int)
    return out


def _note(summary: pd.DataFrame, lo: int, hi: int, table: pd.DataFrame | None = None,
          thresholds: dict | None = None) -> str:
    parts = []
    if table is not None and thresholds is not None and "convergence_rel_max" in thresholds:
        conv = convergence(table)
        if not conv.empty and conv["rel"].notna().any():
            worst = conv.loc[conv["rel"].idxmax()]
            ok = int(converged(conv, thresholds).sum())
            parts.append(
                f"Convergence: {ok} of {len(conv)} runs converged; the largest change of the windowed training loss "
                f"over the last {CONVERGENCE_WINDOW:.0%} of epochs is {worst['rel']:.1%} ({worst['before']:.4g} -> "
                f"{worst['last']:.4g} nats, {worst['net']} {int(worst['depth'])} layers, seed {int(worst['seed'])}).")
    init = first_last_ratio(summary, "grad_init", "plain", hi)
    trained = first_last_ratio(summary, "grad_trained", "plain", hi)
    if init and trained:
        parts.append(
            f"At initialisation the {hi}-layer plain net's gradient norms {_direction(*init)}: {init[0]:.3g} at the "
            f"first convolution vs {init[1]:.3g} at the last (geometric mean over seeds); after training they are "
            f"{trained[0]:.3g} vs {trained[1]:.3g}.")
    res = first_last_ratio(summary, "grad_init", "residual", hi)
    spreads = select(summary, condition="grad_init", metric="grad_spread", depth=hi)
    if res and {"plain", "residual"} <= set(spreads["net"]):
        sp = float(select(spreads, net="plain")["mean"].iloc[0])
        sr = float(select(spreads, net="residual")["mean"].iloc[0])
        rel = "narrower than" if sr < sp else ("wider than" if sr > sp else "the same as")
        parts.append(
            f"The {hi}-layer residual net's gradient norms at initialisation {_direction(*res)}: {res[0]:.3g} at the "
            f"first convolution vs {res[1]:.3g} at the last; over all its convolutions they span {sr:.2f} decades "
            f"(mean over seeds), {rel} the plain net's {sp:.2f}.")
    parts.append("He et al. (2016) attribute the degradation of batch-normalised plain nets to an optimisation "
                  "difficulty rather than to vanishing gradients.")
    anchor = ", ".join(f"ResNet-{d} {e} %" for d, e in PAPER_RESNET_ERROR.items())
    parts.append(f"Full-scale anchor (CIFAR-10 test error, He et al. 2016, table 6): {anchor} (ResNet-110: best of "
                 f"5 runs; their mean {PAPER_RESNET110_MEAN} %); in the paper the plain nets' error grows from 20 to "
                 "56 layers.")
    errs = residual_errors(table) if table is not None else None
    if errs is not None and not errs.empty:
        ours = ", ".join(f"{int(r.depth)} layers {r.mean:.2f} % ({r.best:.2f} %)" for r in errs.itertuples())
        parts.append(f"Our residual nets' test error, mean (best) of {int(errs['seeds'].max())} seeds: {ours}.")
    return " ".join(parts)


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    cols = {("train", "loss"): "train loss", ("test", "accuracy"): "test accuracy"}
    parts = []
    for (cond, metric), name in cols.items():
        s = select(summary, condition=cond, metric=metric)
        parts.append(s.pivot_table(index="depth", columns="net", values="mean").add_prefix(f"{name} "))
    params = select(summary, condition="final", metric="params").pivot_table(index="depth", columns="net",
                                                                            values="mean")
    spread = select(summary, condition="grad_init", metric="grad_spread").pivot_table(
        index="depth", columns="net", values="mean").add_prefix("grad spread at init ")
    out = pd.concat(parts + [spread], axis=1)
    out["parameters"] = [f"{int(v):,}" for v in params.max(axis=1)]  # strings: the report's float format skips them
    out.index = [str(int(d)) for d in out.index]
    return out.rename_axis("depth").reset_index()
