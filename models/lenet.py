"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), in the layer sizes of the paper.

C1 6@5x5 -> S2 2x2 subsampling -> C3 16@5x5 -> S4 -> C5/F5 120 -> F6 84 -> 10 outputs,
tanh activations. Differences from the paper, kept because modern practice made them
standard: C3 is fully connected to S2 (the paper used a sparse connection table), the
subsampling layers are plain average pooling (no trainable coefficient), and the output is
a linear layer with softmax cross-entropy instead of Euclidean RBF units. 28x28 inputs are
zero-padded by 2 in C1, reproducing the paper's 32x32 input field.

``activation="relu", pool="max"`` gives the same layer sizes with today's choices (ReLU
units and max pooling) for comparison; the default is the paper's tanh and average
subsampling.
"""
from __future__ import annotations

import math

from torch import nn

from ._registry import register_model


LAYERS = ("C1", "S2", "C3", "S4", "F5")  # the spatial layers, in order


def _side(v) -> int:
    """One side of a square kernel, stride or padding (PyTorch stores an int or a pair)."""
    return int(v if isinstance(v, int) else v[0])


ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
POOLS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


class LeNet5(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28,
                 activation: str = "tanh", pool: str = "avg"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"lenet5: activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
        if pool not in POOLS:
            raise ValueError(f"lenet5: pool {pool!r} is not one of {', '.join(POOLS)}")
        pad = max(0, (32 - input_size) // 2)
        self.c1 = nn.Conv2d(in_channels, 6, 5, padding=pad)
        self.s2 = POOLS[pool](2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = POOLS[pool](2)
        self.f5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, num_classes)
        self.act = ACTIVATIONS[activation]()

    def _steps(self):
        return (("C1", lambda x: self.act(self.c1(x))), ("S2", self.s2), ("C3", lambda x: self.act(self.c3(x))),
                ("S4", self.s4), ("F5", lambda x: self.act(self.f5(x.flatten(1)))))

    def forward_intermediates(self, x, stop_at: str = "F5") -> dict:
        """Activations after each spatial layer (C1, S2, C3, S4, F5; convolutions after tanh) up to ``stop_at``."""
        if stop_at not in LAYERS:
            raise ValueError(f"unknown LeNet-5 layer {stop_at!r}; allowed: {', '.join(LAYERS)}")
        out = {}
        for name, step in self._steps():
            x = out[name] = step(x)
            if name == stop_at:
                break
        return out

    def stages(self) -> dict:
        """layer -> function from the input to that layer's activations (as in :meth:`forward_intermediates`)."""
        return {name: (lambda x, name=name: self.forward_intermediates(x, name)[name]) for name in LAYERS}

    def geometry(self) -> list[tuple[str, int, int, int]]:
        """(layer, kernel, stride, padding) of the spatial layers, read from the modules, along one axis.

        F5, a linear layer on S4's whole 5x5 maps, acts as a 5x5 convolution on S4.
        """
        f5_kernel = math.isqrt(self.f5.in_features // self.c3.out_channels)
        return [("C1", _side(self.c1.kernel_size), _side(self.c1.stride), _side(self.c1.padding)),
                ("S2", _side(self.s2.kernel_size), _side(self.s2.stride), _side(self.s2.padding)),
                ("C3", _side(self.c3.kernel_size), _side(self.c3.stride), _side(self.c3.padding)),
                ("S4", _side(self.s4.kernel_size), _side(self.s4.stride), _side(self.s4.padding)),
                ("F5", f5_kernel, 1, 0)]

    def forward(self, x):
        x = self.forward_intermediates(x)["F5"]
        return self.out(self.act(self.f6(x)))


@register_model
def lenet5(in_shape=(1, 28, 28), num_classes: int = 10, activation: str = "tanh", pool: str = "avg"):
    """LeNet-5 for 28x28 or 32x32 single- or multi-channel images; tanh and average subsampling as in the
    paper, or ``activation="relu"``, ``pool="max"`` for the same layer sizes with today's choices."""
    c, h, w = in_shape
    if h != w or h not in (28, 32):
        raise ValueError(f"lenet5 takes 28x28 or 32x32 images, got {h}x{w}")
    return LeNet5(c, num_classes, h, activation, pool)
