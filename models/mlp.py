"""Fully-connected networks: the lecture's baseline with no notion of locality."""
from __future__ import annotations

import math

from torch import nn

from ._registry import register_model


class MLP(nn.Module):
    def __init__(self, in_features: int, num_classes: int, depth: int, width: int, dropout: float = 0.0,
                 norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        d_in = in_features
        for _ in range(depth):
            layers += [nn.Linear(d_in, width), *([nn.BatchNorm1d(width)] if norm else []), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            d_in = width
        layers.append(nn.Linear(d_in, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@register_model(tiny={"depth": 1, "width": 8})
def mlp(in_shape=(1, 28, 28), num_classes: int = 10, depth: int = 2, width: int = 256, dropout: float = 0.0):
    """``depth`` hidden layers of ``width`` ReLU units; depth 0 is logistic regression."""
    if depth < 0 or width < 1:
        raise ValueError(f"mlp needs depth >= 0 and width >= 1, got depth={depth}, width={width}")
    return MLP(math.prod(in_shape), num_classes, depth, width, dropout)


@register_model
def logistic(in_shape=(1, 28, 28), num_classes: int = 10):
    """Multinomial logistic regression (a linear layer on the flattened input)."""
    return MLP(math.prod(in_shape), num_classes, 0, 1)
