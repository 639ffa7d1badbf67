"""residual: plain vs residual CIFAR-style nets over depth; training loss, accuracy, per-layer gradient norms."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convstudies.engine.evaluations import register_evaluation
from convstudies.plots import line_with_ci
from convstudies.stats import select, t_interval
from convstudies.verdicts import Check, decide

# He et al. (2016), table 6: CIFAR-10 test error (%) of the residual nets.
PAPER_RESNET_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}


# ---------------------------------------------------------------- evaluation (torch inside only)

def weighted_layers(model) -> list:
    """The layers whose gradients are reported, input to output: the net's main path when it
    says which (``resnet_cifar``: stem, block convolutions, FC), else every conv/linear layer."""
    from torch import nn

    from convstudies.models.resnet import CifarResNet, conv_layers

    if isinstance(model, CifarResNet):
        return conv_layers(model)
    return [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]


def initial_model(cfg: dict, in_shape, num_classes: int):
    """The run's network as it was before training: built with the run's seed, as ``fit`` builds it."""
    import torch

    from convstudies.models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])  # what pl.seed_everything(seed) does to torch before create_model
        kw = {k: v for k, v in cfg["model"].items() if k != "name"}
        return create_model(cfg["model"]["name"], in_shape=in_shape, num_classes=num_classes, **kw)


def grad_norms(model, x, y) -> list[tuple[str, float]]:
    """(kind, norm of dL/dW) per weighted layer for one backward pass of the mean cross-entropy,
    in training mode (batch statistics) on a copy, so the model itself is untouched."""
    import copy

    import torch
    import torch.nn.functional as F

    net = copy.deepcopy(model).train()
    for p in net.parameters():
        p.requires_grad_(True)
        p.grad = None
    with torch.enable_grad():
        F.cross_entropy(net(x).float(), y).backward()
    return [("fc" if isinstance(m, torch.nn.Linear) else "conv", float(m.weight.grad.norm()))
            for m in weighted_layers(net)]


def spread_decades(norms: list[float]) -> float:
    """log10(max / min): how many decades the gradient norms span."""
    v = np.asarray(norms, dtype=float)
    return float(np.log10(v.max() / v.min())) if len(v) and v.min() > 0 else math.nan


@register_evaluation
def layer_grad_norms(model, data, cfg, n: int = 256) -> list[dict]:
    """Per-layer weight-gradient norms on the first ``n`` training images, at initialisation
    (a fresh net from the run's seed) and after training; plus their spread over the convolutions."""
    x, y = data.x_train[:n], data.y_train[:n]
    fresh = initial_model(cfg, tuple(x.shape[1:]), data.num_classes).to(x.device)
    rows = []
    for condition, net in (("grad_init", fresh), ("grad_trained", model)):
        norms = grad_norms(net, x, y)
        rows += [{"condition": condition, "layer": i, "kind": kind, "metric": "grad_norm", "value": g}
                 for i, (kind, g) in enumerate(norms, start=1)]
        rows.append({"condition": condition, "metric": "grad_spread",
                     "value": spread_decades([g for kind, g in norms if kind == "conv"])})
    return rows


# ---------------------------------------------------------------- tables and verdict

def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add log10 gradient norms per run and layer: norms span decades, so their CIs are taken on logs."""
    g = select(table, metric="grad_norm")
    if g.empty:
        return table
    logs = g.assign(metric="log10_grad_norm", value=np.log10(g["value"].astype(float).clip(lower=1e-30)))
    return pd.concat([table, logs], ignore_index=True)


def _row(summary, **conds):
    rows = select(summary, **conds)
    if len(rows) != 1:
        raise ValueError(f"expected one summary row for {conds}, found {len(rows)}")
    return rows.iloc[0]


def depths(summary: pd.DataFrame) -> tuple[int, int]:
    """Shallowest and deepest depth run for both plain and residual nets."""
    common = set(select(summary, net="plain")["depth"].dropna()) & set(select(summary, net="residual")["depth"].dropna())
    if not common:
        raise ValueError("no depth was run for both plain and residual nets")
    return int(min(common)), int(max(common))


def _per_seed(table, **conds) -> pd.Series:
    return select(table, **conds).set_index("seed")["value"]


def _diff(table, a: dict, b: dict) -> tuple[float, float, float]:
    """Mean and 95 % CI of (a - b) over seeds, paired by seed."""
    return t_interval((_per_seed(table, **a) - _per_seed(table, **b)).dropna().to_numpy())


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    table = table[table["status"] == "ok"]
    lo, hi = depths(summary)
    loss = dict(condition="train", metric="loss")
    acc = dict(condition="test", metric="accuracy")
    spread = dict(condition="grad_init", metric="grad_spread")
    checks = [
        Check(f"plain nets: training loss at {hi} minus {lo} layers",
              *_diff(table, dict(net="plain", depth=hi, **loss), dict(net="plain", depth=lo, **loss)),
              thresholds["plain_degradation_min"], ">=", "a deeper plain net trains worse (degradation)"),
        Check(f"residual nets: training loss at {hi} minus {lo} layers",
              *_diff(table, dict(net="residual", depth=hi, **loss), dict(net="residual", depth=lo, **loss)),
              thresholds["residual_degradation_max"], "<=", "a deeper residual net trains at least as well"),
        Check(f"test accuracy at {hi} layers: residual minus plain",
              *_diff(table, dict(net="residual", depth=hi, **acc), dict(net="plain", depth=hi, **acc)),
              thresholds["residual_gain_min"], ">=", "shortcuts make the deep net usable"),
        Check(f"gradient-norm spread at init, {hi} layers: plain minus residual (decades)",
              *_diff(table, dict(net="plain", depth=hi, **spread), dict(net="residual", depth=hi, **spread)),
              thresholds["grad_spread_gap_min"], ">=", "shortcuts keep gradients even across layers"),
    ]
    result = decide(checks)
    result["note"] = _note(summary, lo, hi)
    return result


def first_last_ratio(summary: pd.DataFrame, condition: str, net: str, depth: int) -> tuple[float, float] | None:
    """Geometric-mean gradient norm (over seeds) at the first and the last convolution."""
    g = select(summary, condition=condition, metric="log10_grad_norm", kind="conv", net=net, depth=depth)
    if g.empty:
        return None
    g = g.sort_values("layer")
    return 10 ** float(g["mean"].iloc[0]), 10 ** float(g["mean"].iloc[-1])


def _note(summary: pd.DataFrame, lo: int, hi: int) -> str:
    parts = []
    init = first_last_ratio(summary, "grad_init", "plain", hi)
    trained = first_last_ratio(summary, "grad_trained", "plain", hi)
    if init and trained:
        way = "grow towards the input (they explode)" if init[0] > init[1] else "shrink towards the input (they vanish)"
        parts.append(
            f"At initialisation the {hi}-layer plain net's gradient norms {way}: {init[0]:.3g} at the first "
            f"convolution vs {init[1]:.3g} at the last (geometric mean over seeds); after training they are "
            f"{trained[0]:.3g} vs {trained[1]:.3g}. With batch normalisation the deep plain net's trouble is an "
            "optimisation difficulty with badly unbalanced gradients rather than simply vanishing ones, "
            "as He et al. (2016) argue; the residual net's stay within a narrow band.")
    anchor = ", ".join(f"ResNet-{d} {e} %" for d, e in PAPER_RESNET_ERROR.items())
    parts.append(f"Full-scale anchor (CIFAR-10 test error, He et al. 2016): {anchor}; the plain nets' "
                 "error grows from 20 to 56 layers.")
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


# ---------------------------------------------------------------- figures (plotting only)

def _panels(sharey: bool = False):
    import matplotlib.pyplot as plt

    return plt.subplots(1, 2, figsize=(9, 3.6), sharey=sharey, layout="constrained")


def _depth_label(s: pd.DataFrame) -> pd.DataFrame:
    return s.assign(layers=s["depth"].astype(int).astype(str) + " layers")


def training_curves(table: pd.DataFrame, summary: pd.DataFrame):
    curves = _depth_label(select(summary, condition="epoch", metric="train_loss"))
    curves = curves.assign(epoch=curves["epoch"] + 1).sort_values("depth")
    fig, axes = _panels(sharey=True)
    for ax, net in zip(axes, ("plain", "residual")):
        line_with_ci(select(curves, net=net), "epoch", "layers", ax)
        ax.set(title=f"{net} nets", xlabel="epoch", ylabel="training loss (cross-entropy)")
        ax.set_xticks(sorted(curves["epoch"].unique()))
        ax.set_ylim(bottom=0)
        ax.legend(title=None)
    return fig


def depth_effect(table: pd.DataFrame, summary: pd.DataFrame):
    fig, axes = _panels()
    loss = select(summary, condition="train", metric="loss")
    acc = select(summary, condition="test", metric="accuracy")
    line_with_ci(loss.sort_values("depth"), "depth", "net", axes[0])
    axes[0].set(xlabel="depth (weighted layers)", ylabel="final loss on the training set")
    axes[0].set_ylim(bottom=0)
    line_with_ci(acc.sort_values("depth"), "depth", "net", axes[1])
    axes[1].set(xlabel="depth (weighted layers)", ylabel="test accuracy", ylim=(0, 1.02))
    for ax in axes:
        ax.set_xticks(sorted(loss["depth"].unique()))
        ax.legend(title=None)
    return fig


def gradient_norms(table: pd.DataFrame, summary: pd.DataFrame):
    from matplotlib.ticker import FuncFormatter

    lo, hi = depths(summary)
    g = select(summary, metric="log10_grad_norm", depth=[lo, hi])
    g = g.assign(net=g["net"] + " " + g["depth"].astype(int).astype(str)).sort_values(["depth", "net"])
    fig, axes = _panels(sharey=True)
    for ax, (cond, title) in zip(axes, (("grad_init", "at initialisation"), ("grad_trained", "after training"))):
        line_with_ci(select(g, condition=cond), "layer", "net", ax, marker=".")
        ax.set(title=title, xlabel="layer (1 = stem convolution, last = FC)", ylabel="‖∂L/∂W‖ (log scale)")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"$10^{{{v:g}}}$"))
        ax.legend(title=None)
    return fig
