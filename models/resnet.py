"""CIFAR-style residual and plain networks (He, Zhang, Ren & Sun 2016, section 4.2).

A ``6n+2``-layer net: a 3x3 stem convolution, three stages of ``n`` basic blocks with
``w``/``2w``/``4w`` filters (``w = 16`` in the paper) on feature maps that halve at each stage
(stride 2 in the first convolution of stages 2 and 3), global average pooling and one fully
connected layer. A basic block is ``conv3x3 -> BN -> ReLU -> conv3x3 -> BN``, plus the
shortcut, then ReLU. ``residual=False`` drops every shortcut and leaves the rest identical
(the paper's "plain" nets). Shortcuts that change shape are option A (subsample by 2 and
zero-pad the new channels: parameter-free, the paper's CIFAR choice) or option B (1x1
convolution + BN projection).

``model.weighted_layers()`` lists the weighted layers of the main path in depth order (stem,
block convolutions, FC): the "layers" that ``depth`` counts.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import register_model

SHORTCUTS = ("A", "B")


class ShortcutA(nn.Module):
    """Option A: identity with stride-2 subsampling and zero-padded extra channels."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride, self.pad = stride, c_out - c_in

    def forward(self, x):
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.pad)) if self.pad else x


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, residual: bool, shortcut: str, norm: bool):
        super().__init__()
        bn = (lambda c: nn.BatchNorm2d(c)) if norm else (lambda c: nn.Identity())
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not norm)
        self.bn1 = bn(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=not norm)
        self.bn2 = bn(c_out)
        self.residual = residual
        if not residual:
            self.shortcut = None
        elif stride == 1 and c_in == c_out:
            self.shortcut = nn.Identity()
        elif shortcut == "A":
            self.shortcut = ShortcutA(c_in, c_out, stride)
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=not norm), bn(c_out))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, depth: int = 20, width: int = 16,
                 residual: bool = True, shortcut: str = "A", norm: bool = True):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"unknown shortcut {shortcut!r}; allowed: {', '.join(SHORTCUTS)}")
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        n = (depth - 2) // 6
        self.depth, self.residual = depth, residual
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=not norm),
                                  nn.BatchNorm2d(width) if norm else nn.Identity(), nn.ReLU())
        blocks, c = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(c, c_out, stride, residual, shortcut, norm))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def weighted_layers(self) -> list[nn.Module]:
        """The ``depth`` weighted layers of the main path, input to output (shortcut projections excluded)."""
        layers = [self.stem[0]]
        for b in self.blocks:
            layers += [b.conv1, b.conv2]
        return layers + [self.fc]


@register_model(tiny={"depth": 8, "width": 4})
def resnet_cifar(in_shape=(1, 28, 28), num_classes: int = 10, depth: int = 20, width: int = 16,
                 residual: bool = True, shortcut: str = "A", norm: bool = True):
    """He et al. (2016) CIFAR net of ``depth = 6n+2`` layers, ``width`` base filters; ``residual=False`` is plain."""
    if len(in_shape) != 3:
        raise ValueError(f"resnet_cifar takes (C, H, W) images, got in_shape={tuple(in_shape)}")
    return CifarResNet(in_shape[0], num_classes, depth, width, residual, shortcut, norm)
