"""A configurable convolutional network, 1D or 2D, for the hyperparameter studies.

Each block is ``conv -> [batchnorm] -> ReLU -> [pool]``; the head either flattens the last
feature map (position-dependent, like an MLP on features) or pools it globally
(position-independent).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._registry import register_model

POOLS = ("none", "max", "avg", "conv", "blurmax")
HEADS = ("flatten", "global_avg", "global_max")
PADDING_MODES = ("zeros", "reflect", "circular", "replicate")


def _layers(dim: int):
    return (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d, nn.BatchNorm1d) if dim == 1 else (
        nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.BatchNorm2d)


class BlurMaxPool2d(nn.Module):
    """Anti-aliased max pooling (Zhang 2019): dense max, then blur and subsample (timm's BlurPool2d)."""

    def __init__(self, channels: int, size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        from timm.layers import BlurPool2d  # timm costs seconds to import; only pay when used

        self.max = nn.MaxPool2d(size, stride=1, padding=padding)
        self.blur = BlurPool2d(channels, filt_size=3, stride=size if stride is None else stride)

    def forward(self, x):
        return self.blur(self.max(x))


def pool_padding_of(size: int, padding: int | str = 0) -> int:
    """Padding of a pooling layer: an int, or ``same`` = (size - 1) // 2, which gives every window the
    same output size ceil(n / stride) at stride 2 (e.g. 32 -> 16 for windows 1 to 4)."""
    if padding == "same":
        return (size - 1) // 2
    if not isinstance(padding, int) or padding < 0 or padding > size // 2:
        raise ValueError(f"pool padding must be 'same' or an int in [0, {size // 2}] (at most half the window "
                         f"{size}); got {padding!r}")
    return padding


def make_pool(kind: str, size: int, channels: int, dim: int, stride: int | None = None,
              padding: int | str = 0) -> nn.Module:
    """The downsampling layer after a block: window ``size``, ``stride`` (default: the window, i.e.
    non-overlapping windows), ``padding`` (int or ``same``)."""
    conv, maxpool, avgpool, _ = _layers(dim)
    stride = size if stride is None else stride
    if stride < 1 or size < 1:
        raise ValueError(f"pool window and stride must be >= 1; got {size}, {stride}")
    padding = pool_padding_of(size, padding)
    if kind == "none":
        return nn.Identity()
    if kind == "max":
        return maxpool(size, stride=stride, padding=padding)
    if kind == "avg":
        return avgpool(size, stride=stride, padding=padding)
    if kind == "conv":
        return conv(channels, channels, size, stride=stride, padding=padding)
    if kind == "blurmax":
        if dim != 2:
            raise ValueError("pool 'blurmax' is only implemented for 2D inputs")
        return BlurMaxPool2d(channels, size, stride, padding)
    raise ValueError(f"unknown pool {kind!r}; allowed: {', '.join(POOLS)}")


def check_head(head: str) -> None:
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; allowed: {', '.join(HEADS)}")


def make_head(feature_shape: tuple[int, ...], num_classes: int, head: str = "flatten", hidden: int = 0,
              dropout: float = 0.0) -> nn.Sequential:
    """The classifier on a (C, L) or (C, H, W) feature map: pool -> [dropout] -> [hidden + ReLU] -> linear.

    ``flatten`` keeps every position (a position-dependent linear head); ``global_avg`` /
    ``global_max`` pool each channel over all positions first. Modules are created in the
    order they run, so seeded initial weights depend on the arguments only.
    """
    check_head(head)
    dim = len(feature_shape) - 1
    if head == "flatten":
        pool, n_feat = nn.Flatten(), math.prod(feature_shape)
    else:
        adaptive = {1: (nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d),
                    2: (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)}[dim]
        pool = nn.Sequential((adaptive[0] if head == "global_avg" else adaptive[1])(1), nn.Flatten())
        n_feat = feature_shape[0]
    mlp = [nn.Linear(n_feat, hidden), nn.ReLU()] if hidden else []
    drop = [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(pool, *drop, *mlp, nn.Linear(hidden or n_feat, num_classes))


class ConvBlock(nn.Sequential):
    def __init__(self, c_in: int, dim: int, filters: int, kernel: int = 3, stride: int = 1,
                 padding: int | str = "same", padding_mode: str = "zeros", pool: str = "none",
                 pool_size: int = 2, norm: bool = False, pool_stride: int | None = None,
                 pool_padding: int | str = 0):
        conv, _, _, bn = _layers(dim)
        if kernel < 1 or stride < 1 or filters < 1:
            raise ValueError(f"conv block needs kernel, stride, filters >= 1; got {kernel}, {stride}, {filters}")
        if padding == "same":
            padding = kernel // 2
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"unknown padding_mode {padding_mode!r}; allowed: {', '.join(PADDING_MODES)}")
        layers = [conv(c_in, filters, kernel, stride=stride, padding=padding, padding_mode=padding_mode,
                       bias=not norm)]
        if norm:
            layers.append(bn(filters))
        layers += [nn.ReLU(), make_pool(pool, pool_size, filters, dim, pool_stride, pool_padding)]
        super().__init__(*layers)


class CNN(nn.Module):
    def __init__(self, in_shape, num_classes: int, blocks: list[dict], head: str = "global_avg",
                 hidden: int = 0, dropout: float = 0.0):
        super().__init__()
        dim = len(in_shape) - 1
        if dim not in (1, 2):
            raise ValueError(f"cnn takes (C, L) or (C, H, W) inputs, got in_shape={tuple(in_shape)}")
        check_head(head)
        feats, c = [], in_shape[0]
        for spec in blocks:
            feats.append(ConvBlock(c, dim, **spec))
            c = spec["filters"]
        self.features = nn.Sequential(*feats)
        with torch.no_grad():
            out_shape = self.features(torch.zeros(1, *in_shape)).shape[1:]
        self.head = make_head(tuple(out_shape), num_classes, head, hidden, dropout)

    def forward(self, x):
        return self.head(self.features(x))


DEFAULT_BLOCKS = [
    {"filters": 16, "kernel": 3, "pool": "max"},
    {"filters": 32, "kernel": 3, "pool": "max"},
]


@register_model(tiny={"blocks": [{"filters": 4, "kernel": 3, "pool": "max"}]})
def cnn(in_shape=(1, 28, 28), num_classes: int = 10, blocks: list[dict] | None = None,
        head: str = "global_avg", hidden: int = 0, dropout: float = 0.0):
    """Blocks of conv/ReLU/pool (1D or 2D by ``in_shape``); head ``flatten``/``global_avg``/``global_max``."""
    return CNN(in_shape, num_classes, blocks or DEFAULT_BLOCKS, head, hidden, dropout)
