"""Locally-connected networks: convolution's local receptive fields without its weight sharing.

A ``LocallyConnected2d`` layer looks at the same k x k windows (same stride and padding) as
``nn.Conv2d``, but every output position has its own filters and its own bias, so it has
(output positions) times the convolution's parameters and no built-in translation
equivariance. ``local`` builds the same block structure as the registered ``cnn`` model
(blocks of layer -> [batchnorm] -> ReLU -> [pool], then a head) with locally-connected
layers in place of the convolutions, so the two differ in weight sharing only.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import register_model
from .cnn import check_head, make_head, make_pool


class _PositionMatmul(torch.autograd.Function):
    """Per-position matrix products (L, B, K) @ (L, K, O) with contiguous operands in both passes.

    Plain ``torch.bmm`` on strided views falls back to one small product per position in
    its backward pass on CPU (tens of times slower); copying to contiguous first keeps
    every product a single batched GEMM.
    """

    @staticmethod
    def forward(ctx, cols, weight):
        ctx.save_for_backward(cols, weight)
        return torch.bmm(cols, weight)

    @staticmethod
    def backward(ctx, grad):
        cols, weight = ctx.saved_tensors
        grad = grad.contiguous()
        g_cols = torch.bmm(grad, weight.transpose(1, 2).contiguous()) if ctx.needs_input_grad[0] else None
        g_weight = torch.bmm(cols.transpose(1, 2).contiguous(), grad) if ctx.needs_input_grad[1] else None
        return g_cols, g_weight


class LocallyConnected2d(nn.Module):
    """``nn.Conv2d`` without weight sharing (zero padding only), computed with ``unfold``.

    Weight shape (positions, in_channels * k * k, out_channels); bias (out_channels, H', W').
    Initialised like ``nn.Conv2d`` (uniform in +-1/sqrt(fan_in)), so at initialisation each
    position's filters are distributed exactly as a convolution's.
    """

    def __init__(self, in_channels: int, out_channels: int, in_size: tuple[int, int], kernel: int,
                 stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        if kernel < 1 or stride < 1 or padding < 0:
            raise ValueError(f"locally-connected layer needs kernel, stride >= 1 and padding >= 0; "
                             f"got {kernel}, {stride}, {padding}")
        h, w = in_size
        self.out_size = ((h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1)
        if min(self.out_size) < 1:
            raise ValueError(f"a {kernel}x{kernel} window with padding {padding} does not fit a {h}x{w} input")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.padding = kernel, stride, padding
        positions = self.out_size[0] * self.out_size[1]
        fan_in = in_channels * kernel * kernel
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.empty(positions, fan_in, out_channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels, *self.out_size).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        cols = F.unfold(x.contiguous(), self.kernel, padding=self.padding, stride=self.stride)  # (B, C*k*k, L)
        out = _PositionMatmul.apply(cols.permute(2, 0, 1).contiguous(), self.weight)  # (L, B, O)
        out = out.permute(1, 2, 0).reshape(x.shape[0], self.out_channels, *self.out_size)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel={self.kernel}, stride={self.stride}, "
                f"padding={self.padding}, out_size={self.out_size}")


class LocalBlock(nn.Sequential):
    """``cnn``'s ConvBlock with a locally-connected layer: local -> [batchnorm] -> ReLU -> pool."""

    def __init__(self, c_in: int, in_size: tuple[int, int], filters: int, kernel: int = 3, stride: int = 1,
                 padding: int | str = "same", padding_mode: str = "zeros", pool: str = "none", pool_size: int = 2,
                 norm: bool = False):
        if padding_mode != "zeros":
            raise ValueError(f"the locally-connected layer pads with zeros only, got padding_mode {padding_mode!r}")
        if padding == "same":
            padding = kernel // 2
        local = LocallyConnected2d(c_in, filters, in_size, kernel, stride, padding, bias=not norm)
        layers = [local] + ([nn.BatchNorm2d(filters)] if norm else [])
        layers += [nn.ReLU(), make_pool(pool, pool_size, filters, 2)]
        super().__init__(*layers)


class LocalNet(nn.Module):
    def __init__(self, in_shape, num_classes: int, blocks: list[dict], head: str = "flatten", hidden: int = 0,
                 dropout: float = 0.0):
        super().__init__()
        if len(in_shape) != 3:
            raise ValueError(f"local takes (C, H, W) images, got in_shape={tuple(in_shape)}")
        check_head(head)
        feats, c, size = [], in_shape[0], tuple(in_shape[1:])
        for spec in blocks:
            block = LocalBlock(c, size, **spec)
            feats.append(block)
            with torch.no_grad():
                size = tuple(block(torch.zeros(1, c, *size)).shape[2:])
            c = spec["filters"]
        self.features = nn.Sequential(*feats)
        self.head = make_head((c, *size), num_classes, head, hidden, dropout)

    def forward(self, x):
        return self.head(self.features(x))


DEFAULT_BLOCKS = [
    {"filters": 8, "kernel": 5, "pool": "max"},
    {"filters": 16, "kernel": 3, "pool": "max"},
]


@register_model(tiny={"blocks": [{"filters": 2, "kernel": 3, "pool": "max"}]})
def local(in_shape=(1, 28, 28), num_classes: int = 10, blocks: list[dict] | None = None, head: str = "flatten",
          hidden: int = 0, dropout: float = 0.0):
    """``cnn``'s architecture with locally-connected layers (same windows, no weight sharing)."""
    return LocalNet(in_shape, num_classes, blocks or DEFAULT_BLOCKS, head, hidden, dropout)

