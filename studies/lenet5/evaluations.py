"""lenet5 evaluations: C1 kernels at init and trained, feature maps, receptive fields analytic and measured.

Everything the figures need is computed at train time and stored as tidy rows (kernel
weights, feature-map values, input-gradient maps), so the figures read the table and never
the weight files. The model (``models/lenet.py``) gives its layer geometry and its stages;
the receptive-field arithmetic is torch-free, in ``analysis.py``.
"""
from __future__ import annotations

import torch

from convstudies.evaluations import register_evaluation
from convstudies.models import build_model

from .analysis import analytic_receptive_fields, neighbour_correlation, pack


def initial_model(cfg, data):
    """The model as the run created it before training (seeded as the engine seeds it), on the data's device.

    Built inside a forked CPU generator, so the evaluations after this one see the same
    global random state as before.
    """
    with torch.random.fork_rng(devices=[]):
        model = build_model(cfg["model"], data.in_shape, data.num_classes, seed=cfg["seed"])
    return model.to(data.x_test.device).eval()


def measure_receptive_field(stage, x):
    """Input-gradient footprint of the central unit of ``stage(x)`` (channel 0).

    ``x`` is one input (1, C, H, W). A 4D output's central unit is (0, H'//2, W'//2) like
    ``analytic_receptive_fields``; a 2D output's is feature 0. Returns (rows, cols, grad): the
    number of rows and columns spanned by nonzero gradient, and |gradient| summed over
    channels as an (H, W) array.
    """
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = stage(x)
        unit = y[0, 0, y.shape[2] // 2, y.shape[3] // 2] if y.dim() == 4 else y[0, 0]
        (g,) = torch.autograd.grad(unit, x)
    g = g[0].abs().sum(0).float().cpu()
    nz = g != 0

    def span(mask):
        idx = mask.nonzero().flatten()
        return int(idx.max() - idx.min() + 1) if len(idx) else 0

    return span(nz.any(1)), span(nz.any(0)), g.numpy()


@register_evaluation
def lenet5_kernels(model, data, cfg) -> list[dict]:
    """C1 kernels at initialisation and after training (one row each), and their neighbour correlation."""
    rows = []
    for state, m in (("init", initial_model(cfg, data)), ("trained", model)):
        w = m.c1.weight.detach().float().cpu().numpy()  # (6, C, 5, 5)
        for f in range(w.shape[0]):
            for c in range(w.shape[1]):
                rows.append({"condition": "c1_kernel", "state": state, "channel": f, "in_channel": c,
                             "metric": "weights", **pack(w[f, c])})
        rows.append({"condition": "c1_kernel", "state": state, "metric": "neighbour_correlation",
                     "value": neighbour_correlation(w)})
    return rows


@register_evaluation
def lenet5_feature_maps(model, data, cfg, index: int = 0) -> list[dict]:
    """One test digit and the C1 and C3 feature maps (after tanh) of the trained net, one row per map."""
    model.eval()
    x = data.x_test[index:index + 1]
    stages = model.stages()
    with torch.inference_mode():
        maps = {"input": x, "C1": stages["C1"](x), "C3": stages["C3"](x)}
    rows = []
    for layer, t in maps.items():
        a = t[0].float().cpu().numpy()
        rows += [{"condition": "feature_map", "layer": layer, "channel": ch, "digit": int(data.y_test[index]),
                  "metric": "activations", **pack(a[ch])} for ch in range(a.shape[0])]
    return rows


@register_evaluation
def lenet5_receptive_fields(model, data, cfg, index: int = 0) -> list[dict]:
    """Analytic and measured receptive field of a central unit per layer, at init and trained.

    The measurement uses one test digit; rows ``rf_gradient`` keep the trained net's
    input-gradient map (normalised to a maximum of 1) for the figure.
    """
    analytic = {a["layer"]: a for a in analytic_receptive_fields(model.geometry(), data.in_shape[-1])}
    x = data.x_test[index:index + 1]
    rows, worst = [], 0.0
    for state, m in (("init", initial_model(cfg, data)), ("trained", model)):
        m.eval()
        for layer, stage in m.stages().items():
            a = analytic[layer]
            h, w, g = measure_receptive_field(stage, x)
            worst = max(worst, abs(h - a["in_image"]), abs(w - a["in_image"]))
            base = {"condition": "receptive_field", "layer": layer, "state": state}
            rows += [{**base, "metric": "measured", "value": float(max(h, w))},
                     {**base, "metric": "measured_rows", "value": float(h)},
                     {**base, "metric": "measured_cols", "value": float(w)},
                     {**base, "metric": "analytic", "value": float(a["r"])},
                     {**base, "metric": "analytic_in_image", "value": float(a["in_image"])},
                     {**base, "metric": "jump", "value": float(a["j"])},
                     {**base, "metric": "first", "value": float(a["first"])}]
            if state == "trained":
                g = g / g.max() if g.max() > 0 else g
                rows.append({"condition": "rf_gradient", "layer": layer, "metric": "abs_grad", **pack(g)})
    rows.append({"condition": "receptive_field", "layer": "all", "metric": "max_mismatch", "value": float(worst)})
    return rows
