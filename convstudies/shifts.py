"""Translations and distortions as pure batch functions on tensors (any device, no per-sample Python).

Shapes: images (N, C, H, W) or sequences (N, C, L). A shift moves the content by an integer
number of pixels with zero fill; content pushed past the border is lost, as on a canvas.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def place_on_canvas(x: torch.Tensor, size: int) -> torch.Tensor:
    """Centre each image (or sequence) on a zero canvas of ``size`` pixels a side."""
    spatial = x.shape[2:]
    if any(s > size for s in spatial):
        raise ValueError(f"canvas {size} is smaller than the input {tuple(spatial)}")
    pads = []
    for s in reversed(spatial):
        before = (size - s) // 2
        pads += [before, size - s - before]
    return F.pad(x, pads)


def _as_index(v, n: int, device) -> torch.Tensor:
    v = torch.as_tensor(v, device=device, dtype=torch.long)
    return v.expand(n) if v.dim() == 0 else v


def translate(x: torch.Tensor, dy, dx=0) -> torch.Tensor:
    """Shift sample i by (dy[i], dx[i]) pixels (down, right); ints shift every sample alike.

    For sequences (N, C, L) only ``dy`` is used, as the shift along the sequence.
    """
    n = x.shape[0]
    dy = _as_index(dy, n, x.device)
    if x.dim() == 3:
        m = int(dy.abs().max()) if n else 0
        padded = F.pad(x, (m, m))
        idx = torch.arange(x.shape[2], device=x.device)[None, :] + m - dy[:, None]  # (N, L)
        return padded.gather(2, idx[:, None, :].expand(-1, x.shape[1], -1))
    dx = _as_index(dx, n, x.device)
    m = int(torch.maximum(dy.abs().max(), dx.abs().max())) if n else 0
    padded = F.pad(x, (m, m, m, m))
    rows = torch.arange(x.shape[2], device=x.device)[None, :] + m - dy[:, None]  # (N, H)
    cols = torch.arange(x.shape[3], device=x.device)[None, :] + m - dx[:, None]  # (N, W)
    n_idx = torch.arange(n, device=x.device)[:, None, None]
    out = padded[n_idx, :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)  # channels-last memory, the fast layout for convolutions


def random_shifts(n: int, max_shift: int, generator: torch.Generator | None = None, device="cpu"):
    """Independent uniform integer shifts in [-max_shift, max_shift] for each axis."""
    dy = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator, device=device)
    dx = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator, device=device)
    return dy, dx


def random_translate(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augmentation: shift every sample by its own random offset (uniform per axis)."""
    if max_shift <= 0:
        return x
    dy, dx = random_shifts(x.shape[0], max_shift, generator, x.device)
    return translate(x, dy, dx)


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augmentation: mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
    return torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


DIRECTIONS = {
    "right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0),
    "down_right": (1, 1), "up_left": (-1, -1), "down_left": (1, -1), "up_right": (-1, 1),
}


def random_affine(x: torch.Tensor, translate: float, degrees: float, scale: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Augmentation: small random affine distortions of each image (LeCun et al. 1998, section
    V-B), as a pure batch function: a shift of up to ``translate`` pixels per axis, a rotation of
    up to ``degrees`` and a scaling by a factor in [1 - scale, 1 + scale], each uniform and drawn
    per image; bilinear resampling, zeros outside the image."""
    n, _, h, w = x.shape
    u = torch.rand(n, 4, generator=generator, device=x.device, dtype=torch.float32) * 2 - 1
    angle = u[:, 0] * math.radians(degrees)
    factor = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    # affine_grid maps output to input coordinates in [-1, 1]: a shift of t pixels is 2t / size
    theta = torch.stack([torch.stack([cos, -sin, u[:, 2] * translate * 2 / w], 1),
                         torch.stack([sin, cos, u[:, 3] * translate * 2 / h], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
