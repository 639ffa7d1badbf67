"""residual evaluations (torch): per-layer weight-gradient norms at initialisation and after training."""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from convstudies.evaluations import register_evaluation
from convstudies.models import build_model


def weighted_layers(model) -> list[nn.Module]:
    """The layers whose gradients are reported, input to output: the net's main path when the net
    says which (``resnet_cifar``: ``model.weighted_layers()``, stem, block convolutions, FC), else
    every conv/linear layer."""
    if hasattr(model, "weighted_layers"):
        return model.weighted_layers()
    return [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]


def grad_norms(model, x, y) -> list[tuple[str, float]]:
    """(kind, norm of dL/dW) per weighted layer for one backward pass of the mean cross-entropy,
    in training mode (batch statistics) on a copy, so the model itself is untouched."""
    net = copy.deepcopy(model).train()
    for p in net.parameters():
        p.requires_grad_(True)
        p.grad = None
    with torch.enable_grad():
        F.cross_entropy(net(x).float(), y).backward()
    return [("fc" if isinstance(m, nn.Linear) else "conv", float(m.weight.grad.norm()))
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
    with torch.random.fork_rng(devices=[]):  # the seed's fresh net; the global RNG is left alone
        fresh = build_model(cfg["model"], tuple(x.shape[1:]), data.num_classes, seed=cfg["seed"]).to(x.device)
    rows = []
    for condition, net in (("grad_init", fresh), ("grad_trained", model)):
        norms = grad_norms(net, x, y)
        rows += [{"condition": condition, "layer": i, "kind": kind, "metric": "grad_norm", "value": g}
                 for i, (kind, g) in enumerate(norms, start=1)]
        rows.append({"condition": condition, "metric": "grad_spread",
                     "value": spread_decades([g for kind, g in norms if kind == "conv"])})
    return rows
