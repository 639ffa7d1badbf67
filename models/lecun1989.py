"""LeCun (1989)'s five nets, "Generalization and network design strategies": from no hidden layer
to shared weights in two layers, on 16x16 digits.

``net`` picks one (layer sizes as the paper's, via Hastie et al. 2009, section 11.7):

- 1: no hidden layer (a linear classifier on the 256 pixels; 2,570 free parameters);
- 2: one fully-connected hidden layer of ``hidden`` (12) units (3,214);
- 3: two locally-connected hidden layers without weight sharing: H1 an 8x8 map, each unit with
  its own 3x3 window (stride 2), H2 a 4x4 map, each unit with its own 5x5 window of H1
  (stride 2) (1,226);
- 4: as 3 but H1 is two 8x8 feature maps with one shared 3x3 kernel each (convolution), H2
  locally connected to both maps (1,132);
- 5: H1 as in 4, H2 four 4x4 feature maps with shared 5x5 kernels over both H1 maps (1,060).

Every hidden unit has its own bias, in shared layers too (the paper's count of free
parameters), and a tanh activation; the output layer is linear (trained with cross-entropy,
not the paper's squared error on sigmoid outputs). Windows are zero-padded (3x3 by 1, 5x5 by
2), so a 16x16 input gives 8x8 and 4x4 maps; other input sizes give other map sizes.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import register_model
from .local import LocallyConnected2d

NETS = (1, 2, 3, 4, 5)


class UntiedConv2d(nn.Module):
    """``nn.Conv2d`` (shared kernels) with one bias per output unit, as LeCun (1989)'s feature maps.

    Initialised like ``nn.Conv2d`` (uniform in +-1/sqrt(fan_in)).
    """

    def __init__(self, in_channels: int, out_channels: int, in_size: tuple[int, int], kernel: int,
                 stride: int = 1, padding: int = 0):
        super().__init__()
        h, w = in_size
        self.out_size = ((h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1)
        self.stride, self.padding = stride, padding
        bound = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel, kernel).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels, *self.out_size).uniform_(-bound, bound))

    def forward(self, x):
        return F.conv2d(x, self.weight, None, self.stride, self.padding) + self.bias


class LeCun1989(nn.Module):
    def __init__(self, in_shape, num_classes: int, net: int, hidden: int = 12):
        super().__init__()
        if net not in NETS:
            raise ValueError(f"lecun1989 net must be one of {NETS}, got {net!r}")
        if len(in_shape) != 3:
            raise ValueError(f"lecun1989 takes (C, H, W) images, got in_shape={tuple(in_shape)}")
        c, size = in_shape[0], tuple(in_shape[1:])
        self.net = net
        if net == 1:
            self.features = nn.Flatten()
            n_feat = math.prod(in_shape)
        elif net == 2:
            self.features = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), hidden), nn.Tanh())
            n_feat = hidden
        else:
            h1 = (LocallyConnected2d(c, 1, size, 3, stride=2, padding=1) if net == 3
                  else UntiedConv2d(c, 2, size, 3, stride=2, padding=1))
            maps1 = 1 if net == 3 else 2
            h2 = (UntiedConv2d(maps1, 4, h1.out_size, 5, stride=2, padding=2) if net == 5
                  else LocallyConnected2d(maps1, 1, h1.out_size, 5, stride=2, padding=2))
            self.features = nn.Sequential(h1, nn.Tanh(), h2, nn.Tanh(), nn.Flatten())
            n_feat = (4 if net == 5 else 1) * math.prod(h2.out_size)
        self.classifier = nn.Linear(n_feat, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model(tiny={"net": 5})
def lecun1989(in_shape=(1, 16, 16), num_classes: int = 10, net: int = 5, hidden: int = 12):
    """LeCun (1989)'s Net-1 .. Net-5: no hidden layer, fully-connected, locally-connected, shared weights
    in one and in two layers (``hidden``: Net-2's hidden units)."""
    return LeCun1989(in_shape, num_classes, net, hidden)
