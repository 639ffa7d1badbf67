"""conv_hparams evaluations (torch): feature-map sizes and FLOPs per layer against the formulas, throughput."""
from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from convstudies.evaluations import register_evaluation
from convstudies.evaluations.common import predict

from .analysis import conv_flops, conv_out_size


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _layers(model):
    """(name, module, kind) for every conv and pooling layer, in forward order, named conv1, pool1, ..."""
    out, counts = [], {"conv": 0, "pool": 0}
    for name, mod in model.named_modules():
        kind = ("conv" if isinstance(mod, nn.Conv2d) else
                "pool" if isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)) else None)
        if kind:
            counts[kind] += 1
            out.append((f"{kind}{counts[kind]}", name, mod, kind))
    return out


def _trace(model, x):
    """Input and output shapes of every conv/pooling layer for one forward pass (forward hooks)."""
    shapes, hooks = {}, []
    for label, _, mod, _ in _layers(model):
        hooks.append(mod.register_forward_hook(
            lambda m, inp, out, label=label: shapes.__setitem__(label, (tuple(inp[0].shape), tuple(out.shape)))))
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return shapes


@register_evaluation
def feature_map_sizes(model, data, cfg):
    """Per conv/pooling layer: measured output height/width (forward hooks) and floor((n + 2p - k) / s) + 1.

    Rows (condition ``layer``, column ``layer``): in_size, out_size, out_size_formula, kernel,
    stride, padding, and ``mismatch`` (1 when height or width differs from the formula). A
    mismatch is also printed to the job log.
    """
    shapes = _trace(model, data.x_test[:1])
    rows = []
    for label, _, mod, kind in _layers(model):
        (_, _, h, w), (_, _, ho, wo) = shapes[label]
        k, s = _pair(mod.kernel_size), _pair(mod.stride if mod.stride is not None else mod.kernel_size)
        p = _pair(mod.padding) if not isinstance(mod.padding, str) else (0, 0)
        d = _pair(getattr(mod, "dilation", 1))
        want = (conv_out_size(h, k[0], s[0], p[0], d[0]), conv_out_size(w, k[1], s[1], p[1], d[1]))
        mismatch = int((ho, wo) != want)
        if mismatch:
            print(f"[conv_hparams] SHAPE MISMATCH {label}: in {h}x{w}, k={k}, s={s}, p={p}: "
                  f"measured {ho}x{wo}, formula {want[0]}x{want[1]}", flush=True)
        for metric, v in (("in_size", h), ("out_size", ho), ("out_size_formula", want[0]), ("out_width", wo),
                          ("out_width_formula", want[1]), ("kernel", k[0]), ("stride", s[0]), ("padding", p[0]),
                          ("mismatch", mismatch)):
            rows.append({"condition": "layer", "layer": label, "metric": metric, "value": float(v)})
    return rows


@register_evaluation
def flops(model, data, cfg):
    """Forward FLOPs for one image from torch.utils.flop_counter.FlopCounterMode, total and per conv layer.

    Rows: condition ``cost`` (metric ``flops``: the whole net; ``conv_flops``: every conv layer),
    and condition ``layer`` per conv layer (``flops`` measured, ``flops_formula``
    = 2 k^2 C_in C_out H_out W_out, ``params``).
    """
    x = data.x_test[:1]
    shapes = _trace(model, x)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    per_module = {k.split(".", 1)[1] if "." in k else k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    rows, conv_total = [], 0
    for label, name, mod, kind in _layers(model):
        if kind != "conv":
            continue
        measured = float(per_module.get(name, 0))
        formula = conv_flops(mod.in_channels, mod.out_channels, mod.kernel_size, shapes[label][1][2:], mod.groups)
        conv_total += measured
        rows += [{"condition": "layer", "layer": label, "metric": "flops", "value": measured},
                 {"condition": "layer", "layer": label, "metric": "flops_formula", "value": float(formula)},
                 {"condition": "layer", "layer": label, "metric": "params",
                  "value": float(sum(p.numel() for p in mod.parameters()))}]
    rows += [{"condition": "cost", "metric": "flops", "value": float(counter.get_total_flops())},
             {"condition": "cost", "metric": "conv_flops", "value": float(conv_total)}]
    return rows


@register_evaluation
def inference_throughput(model, data, cfg, batch_size: int = 500, repeats: int = 3):
    """Test images per second in eval mode (best of ``repeats`` passes over the test split, after a warm-up)."""
    x = data.x_test
    predict(model, x[:batch_size], batch_size)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(model, x, batch_size)
        best = min(best, time.perf_counter() - t0)
    return [{"condition": "throughput", "metric": "inference_images_per_s", "value": len(x) / best}]
