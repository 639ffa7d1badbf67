"""Fully-connected networks with batch normalisation after every hidden linear layer."""
from __future__ import annotations

import math

from ._registry import register_model
from .mlp import MLP


@register_model(tiny={"depth": 1, "width": 8})
def mlp_bn(in_shape=(1, 28, 28), num_classes: int = 10, depth: int = 2, width: int = 256):
    """``depth`` hidden layers of ``width`` units, each linear -> batch norm -> ReLU (the linear layers keep
    their biases); every hidden layer has width^2 + 3 width parameters after the first."""
    if depth < 1 or width < 1:
        raise ValueError(f"mlp_bn needs depth >= 1 and width >= 1, got depth={depth}, width={width}")
    return MLP(math.prod(in_shape), num_classes, depth, width, norm=True)
