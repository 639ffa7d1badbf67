"""The MLP of the MNIST-1D benchmark (Greydanus 2020, ``MLPBase`` in notebooks/models.py of
github.com/greydanus/mnist1d): two hidden ReLU layers of ``width`` units, the second with a
residual connection (h = h + relu(W2 h)), then a linear layer. The benchmark's CNN is the
registered ``cnn`` (three stride-2 convolutions, flatten head) and its logistic regression ``logistic``.
"""
from __future__ import annotations

import math

from torch import nn

from ._registry import register_model


class ResidualMLP(nn.Module):
    def __init__(self, in_features: int, num_classes: int, width: int):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear1 = nn.Linear(in_features, width)
        self.linear2 = nn.Linear(width, width)
        self.linear3 = nn.Linear(width, num_classes)

    def forward(self, x):
        h = self.linear1(self.flatten(x)).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


@register_model(tiny={"width": 8})
def mnist1d_mlp(in_shape=(1, 40), num_classes: int = 10, width: int = 100):
    """Greydanus (2020)'s MNIST-1D MLP: 2 hidden layers of ``width`` (100), the second residual."""
    if width < 1:
        raise ValueError(f"mnist1d_mlp needs width >= 1, got {width}")
    return ResidualMLP(math.prod(in_shape), num_classes, width)
