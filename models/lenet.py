"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), in the layer sizes of the paper.

C1 6@5x5 -> S2 2x2 subsampling -> C3 16@5x5 -> S4 -> C5/F5 120 -> F6 84 -> 10 outputs,
tanh activations. Differences from the paper, kept because modern practice made them
standard: C3 is fully connected to S2 (the paper used a sparse connection table), the
subsampling layers are plain average pooling (no trainable coefficient), and the output is
a linear layer with softmax cross-entropy instead of Euclidean RBF units. 28x28 inputs are
zero-padded by 2 in C1, reproducing the paper's 32x32 input field.
"""
from __future__ import annotations

from torch import nn

from ._registry import register_model


class LeNet5(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28):
        super().__init__()
        pad = max(0, (32 - input_size) // 2)
        self.c1 = nn.Conv2d(in_channels, 6, 5, padding=pad)
        self.s2 = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.AvgPool2d(2)
        self.f5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, num_classes)
        self.act = nn.Tanh()

    def forward(self, x):
        x = self.s2(self.act(self.c1(x)))
        x = self.s4(self.act(self.c3(x)))
        x = self.act(self.f5(x.flatten(1)))
        return self.out(self.act(self.f6(x)))


@register_model
def lenet5(in_shape=(1, 28, 28), num_classes: int = 10):
    """LeNet-5 for 28x28 or 32x32 single- or multi-channel images."""
    c, h, w = in_shape
    if h != w or h not in (28, 32):
        raise ValueError(f"lenet5 takes 28x28 or 32x32 images, got {h}x{w}")
    return LeNet5(c, num_classes, h)
