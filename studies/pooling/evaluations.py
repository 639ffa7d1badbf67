"""pooling evaluations: shift agreement per shift, Zhang (2019)'s two-random-shift consistency, and the max-pool
sub-gradient of a trained net."""
from __future__ import annotations

import torch
from torch import nn

from convstudies.evaluations import register_evaluation
from convstudies.evaluations.common import predict, rate_row
from convstudies.shifts import DIRECTIONS, translate


@register_evaluation
def pool_shift_agreement(model, data, cfg, shifts=(0, 1, 2, 3, 4), directions=("right", "left", "down", "up")):
    """Accuracy and consistency (prediction unchanged w.r.t. the unshifted image) per shift, mean over directions.

    Each row keeps ``per_example``: per test digit, the fraction of the directions in which it
    is classified right (accuracy) or keeps its unshifted prediction (consistency), in the
    test split's order; the row's value is their mean.
    """
    x, y = data.x_test, data.y_test
    ref = predict(model, x).argmax(1)
    rows = []
    for s in shifts:
        acc = torch.zeros(len(y), device=y.device)
        cons = torch.zeros(len(y), device=y.device)
        for d in directions:
            uy, ux = DIRECTIONS[d]
            pred = predict(model, translate(x, uy * s, ux * s)).argmax(1)
            acc += (pred == y).float()
            cons += (pred == ref).float()
        rows += [rate_row(acc / len(directions), condition="shifted", shift=s, metric="accuracy"),
                 rate_row(cons / len(directions), condition="shifted", shift=s, metric="consistency")]
    return rows


@register_evaluation
def zhang_consistency(model, data, cfg, offsets=(-2, -1, 0, 1)):
    """Zhang (2019)'s consistency: how often two random shifts of the same image get the same class.

    Zhang, "Making convolutional networks shift-invariant again" (ICML 2019), defines it as
    E_{X, h1, w1, h2, w2} 1{argmax P(Shift_{h1,w1}(X)) = argmax P(Shift_{h2,w2}(X))}, with both shifts
    drawn independently and uniformly (adobe/antialiased-cnns main.py, ``validate_shift``: two
    offsets in {0..31}^2 of a 224 crop in a 256 image, i.e. -16..15 around the centre crop, one period
    of the nets' total stride 32). Here every test digit is classified at every offset (dy, dx) in
    ``offsets`` x ``offsets`` (zero fill, as on the canvas); with p_c the fraction of those offsets that
    give class c, the digit's consistency is sum_c p_c^2, the exact probability that two independent
    uniform draws (the same one included, as in Zhang's draws) agree, so no sampling noise is added.
    Rows (condition ``shift_pair``): consistency and accuracy (mean over the offsets), per digit.
    """
    x, y = data.x_test, data.y_test
    offs = [(dy, dx) for dy in offsets for dx in offsets]
    counts = torch.zeros(len(y), data.num_classes, device=y.device)
    acc = torch.zeros(len(y), device=y.device)
    for dy, dx in offs:
        pred = predict(model, translate(x, dy, dx)).argmax(1)
        counts[torch.arange(len(y), device=y.device), pred] += 1
        acc += (pred == y).float()
    p = counts / len(offs)
    return [rate_row((p ** 2).sum(1), condition="shift_pair", metric="consistency"),
            rate_row(acc / len(offs), condition="shift_pair", metric="accuracy")]


def maxpool_gradient_check(act, pool, upstream) -> dict:
    """Backpropagate ``upstream`` through ``pool`` (an nn.MaxPool2d) at input ``act``; compare with the rule.

    The rule: within every (non-overlapping) window the input gradient is the upstream gradient
    at the window's maximum and zero elsewhere. Windows with a tied maximum are reported apart
    (how many elements got gradient, whether it went to the first maximal element in row-major
    order, what share of them have a maximum of exactly 0, e.g. windows of ReLU zeros). Input pixels outside every window (when the window does not divide the size) must
    get zero gradient.
    """
    k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
    s = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
    if s != k or pool.padding not in (0, (0, 0)) or pool.dilation not in (1, (1, 1)):
        raise ValueError("maxpool_gradient_check handles non-overlapping, unpadded windows only")
    a = act.detach().clone().requires_grad_(True)
    out = pool(a)
    out.backward(upstream)
    grad = a.grad.detach()
    n, c, ho, wo = out.shape
    crop = (slice(None), slice(None), slice(0, ho * k), slice(0, wo * k))

    def windows(t):  # (N, C, Ho, Wo, k*k), row-major inside the window
        return t[crop].unfold(2, k, k).unfold(3, k, k).reshape(n, c, ho, wo, k * k)

    aw, gw = windows(a.detach()), windows(grad)
    is_max = aw == aw.amax(-1, keepdim=True)
    tied = is_max.sum(-1) > 1
    first = is_max.float().argmax(-1)  # argmax returns the first maximal index
    expected = torch.zeros_like(gw).scatter_(-1, first[..., None], upstream[..., None])
    err = (gw - expected).abs().amax(-1)
    nonzero = (gw != 0).sum(-1)
    outside = grad.clone()
    outside[crop] = 0
    return {
        "windows": int(tied.numel()),
        "max_error_untied": float(err[~tied].max()) if (~tied).any() else 0.0,
        "grad_at_max_ratio": float((gw.gather(-1, first[..., None])[..., 0][~tied] / upstream[~tied]).mean()),
        "tied_fraction": float(tied.float().mean()),
        "tied_elements_with_grad": float(nonzero[tied].float().mean()) if tied.any() else float("nan"),
        "tied_grad_to_first": float((err[tied] == 0).float().mean()) if tied.any() else float("nan"),
        "tied_zero_fraction": float((aw.amax(-1)[tied] == 0).float().mean()) if tied.any() else float("nan"),
        "spread_fraction": float((nonzero != 1).float().mean()),
        "outside_grad_max": float(outside.abs().max()),
    }


@register_evaluation
def maxpool_subgradient(model, data, cfg, n_images: int = 200, seed: int = 0):
    """Check the max-pool sub-gradient on the trained net: its first max-pooling layer, its own activations.

    Rows (condition ``subgradient``): the largest error against the rule in untied windows,
    the gradient at the maximum divided by the upstream gradient (1), the fraction of tied
    windows, how many elements a tied window passes gradient to, whether it is the first
    maximal one and the share of tied windows whose maximum is 0, the fraction of windows
    whose gradient reaches other than one element, and the largest gradient outside every
    window. Nets without a max-pooling layer give no rows, and so do nets whose first max pool is
    not a pool of non-overlapping, unpadded windows of at least 2 (stride = window), which the
    check does not handle.
    """
    blocks = list(getattr(model, "features", []))
    for block in blocks:
        if isinstance(block, nn.Sequential) and isinstance(block[-1], nn.MaxPool2d):
            break
    else:
        return []
    pool = block[-1]
    k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
    s = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
    if k < 2 or s != k or pool.padding not in (0, (0, 0)) or pool.dilation not in (1, (1, 1)):
        return []
    model.eval()
    x = data.x_test[:n_images]
    with torch.no_grad():
        for b in blocks[:blocks.index(block)]:
            x = b(x)
        act = x
        for layer in list(block)[:-1]:
            act = layer(act)
    gen = torch.Generator(device=act.device).manual_seed(seed)
    with torch.no_grad():
        shape = block[-1](act).shape
    upstream = torch.randn(shape, generator=gen, device=act.device)
    upstream = torch.where(upstream == 0, torch.ones_like(upstream), upstream)  # never exactly zero
    res = maxpool_gradient_check(act, block[-1], upstream)
    return [{"condition": "subgradient", "metric": k, "value": float(v)} for k, v in res.items()]
