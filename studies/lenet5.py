"""lenet5: LeNet-5's test error, its learned C1 kernels, feature maps, and receptive fields per layer.

Everything the figures need is computed at train time by the evaluations below and stored
as tidy rows (kernel weights, feature-map values, input-gradient maps), so the figures read
the table and never the weight files.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.engine.evaluations import register_evaluation
from convstudies.stats import select, t_interval
from convstudies.verdicts import Check, decide

PAPER_ERROR = 0.0095   # LeCun et al. 1998, LeNet-5 on full MNIST (60k train / 10k test), no distortions
PAPER_PARAMS = 60_000  # the paper's count, with C3's sparse connection table
LAYERS = ["C1", "S2", "C3", "S4", "F5"]


# ---------------------------------------------------------------- receptive fields (analytic)

def lenet5_geometry(input_size: int = 28) -> list[tuple[str, int, int, int]]:
    """(layer, kernel, stride, padding) of LeNet-5's spatial layers; F5 acts as a 5x5 convolution on S4."""
    pad = max(0, (32 - input_size) // 2)
    return [("C1", 5, 1, pad), ("S2", 2, 2, 0), ("C3", 5, 1, 0), ("S4", 2, 2, 0), ("F5", 5, 1, 0)]


def analytic_receptive_fields(layers, input_size: int) -> list[dict]:
    """Receptive field of the central unit of each layer, along one axis.

    ``layers`` is a list of (name, kernel, stride, padding). The recursion is
    r_out = r_in + (k - 1) j_in and j_out = j_in s (r: field size, j: jump, the input-pixel
    distance between neighbouring units); ``start`` is the input coordinate where unit 0's
    field begins (padding moves it left by p j_in). The central unit is index n_out // 2;
    ``first``/``last`` locate its field. ``in_image`` is the part of that field that can
    reach the unit at all: the field intersected with the image, and with what each layer
    actually reads (zero padding, and the rows a strided layer drops when it does not fit
    its input exactly, contribute nothing). It is what a gradient measurement sees.
    """
    r, j, start, n = 1, 1, 0, input_size
    sizes, out = [], []
    for name, k, s, p in layers:
        sizes.append(n)
        n = (n + 2 * p - k) // s + 1
        if n < 1:
            raise ValueError(f"layer {name} has no output for this input size")
        start -= p * j
        r += (k - 1) * j
        j *= s
        unit = n // 2
        first = start + unit * j
        lo, hi = _reachable(layers[:len(sizes)], sizes, unit, unit)
        out.append({"layer": name, "kernel": k, "stride": s, "padding": p, "out_size": n, "unit": unit,
                    "r": r, "j": j, "first": first, "last": first + r - 1, "in_image": max(0, hi - lo + 1),
                    "reach_first": lo, "reach_last": hi})
    return out


def _reachable(layers, sizes, a: int, b: int) -> tuple[int, int]:
    """Input pixels that units a..b of the last of ``layers`` depend on (``sizes``: each layer's input size)."""
    for (_, k, s, p), n_in in zip(reversed(layers), reversed(sizes)):
        a, b = max(a * s - p, 0), min(b * s - p + k - 1, n_in - 1)
    return a, b


# ---------------------------------------------------------------- receptive fields (measured)

def measure_receptive_field(stage, x):
    """Input-gradient footprint of the central unit of ``stage(x)`` (channel 0).

    ``x`` is one input (1, C, H, W). A 4D output's central unit is (0, H'//2, W'//2) like
    ``analytic_receptive_fields``; a 2D output's is feature 0. Returns (rows, cols, grad): the
    number of rows and columns spanned by nonzero gradient, and |gradient| summed over
    channels as an (H, W) array.
    """
    import torch

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


def lenet5_stages(m) -> dict:
    """Functions input -> activations after each LeNet-5 layer (C1, S2, C3, S4, F5)."""
    def c1(x):
        return m.act(m.c1(x))

    def s2(x):
        return m.s2(c1(x))

    def c3(x):
        return m.act(m.c3(s2(x)))

    def s4(x):
        return m.s4(c3(x))

    def f5(x):
        return m.act(m.f5(s4(x).flatten(1)))

    return {"C1": c1, "S2": s2, "C3": c3, "S4": s4, "F5": f5}


def initial_model(cfg, data):
    """The model as the run created it before training (the engine seeds torch with the run seed first)."""
    import torch

    from convstudies.models import create_model

    kw = {k: v for k, v in cfg["model"].items() if k != "name"}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        model = create_model(cfg["model"]["name"], in_shape=data.in_shape, num_classes=data.num_classes, **kw)
    return model.to(data.x_test.device).eval()


# ---------------------------------------------------------------- kernels

def neighbour_correlation(kernels: np.ndarray) -> float:
    """Mean over kernels of the correlation between horizontally and vertically adjacent weights.

    ``kernels`` has shape (..., k, k); every leading index is one kernel. White noise gives
    about 0, smooth blobs and strokes close to 1, a checkerboard -1.
    """
    w = np.asarray(kernels, dtype=float)
    w = w.reshape(-1, *w.shape[-2:])
    corr = []
    for k in w:
        a = np.concatenate([k[:, :-1].ravel(), k[:-1, :].ravel()])
        b = np.concatenate([k[:, 1:].ravel(), k[1:, :].ravel()])
        if a.std() > 0 and b.std() > 0:
            corr.append(float(np.corrcoef(a, b)[0, 1]))
    return float(np.mean(corr)) if corr else float("nan")


# ---------------------------------------------------------------- evaluations (torch imported inside)

def pack(a) -> dict:
    """A 2D array as table columns: ``array`` (row-major values, space-separated), ``height``, ``width``.

    Figures need whole kernels, feature maps and gradient maps of single runs; one row per
    array keeps the tidy table small (one row per pixel would make it ~10,000 rows per run).
    ``value`` is the array's mean.
    """
    a = np.asarray(a, dtype=float)
    return {"height": a.shape[0], "width": a.shape[1], "array": " ".join(f"{v:.5g}" for v in a.ravel()),
            "value": float(a.mean())}


def unpack(row) -> np.ndarray:
    """The array ``pack`` stored in a table row."""
    return np.array(str(row["array"]).split(), dtype=float).reshape(int(row["height"]), int(row["width"]))


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
    import torch

    model.eval()
    x = data.x_test[index:index + 1]
    stages = lenet5_stages(model)
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
    size = data.in_shape[-1]
    analytic = {a["layer"]: a for a in analytic_receptive_fields(lenet5_geometry(size), size)}
    x = data.x_test[index:index + 1]
    rows, worst = [], 0.0
    for state, m in (("init", initial_model(cfg, data)), ("trained", model)):
        m.eval()
        for layer, stage in lenet5_stages(m).items():
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


# ---------------------------------------------------------------- verdict and table

def _row(summary, **conds):
    rows = select(summary, **conds)
    if len(rows) != 1:
        raise ValueError(f"expected one summary row for {conds}, found {len(rows)}")
    return rows.iloc[0]


def _per_seed(table, **conds) -> pd.Series:
    return select(table, **conds).set_index("seed")["value"]


def first_seed_run(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the run with the lowest seed (the one the single-run figures show)."""
    return table[table["seed"] == table["seed"].min()]


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    ok = table[table["status"] == "ok"]
    err = 1.0 - _per_seed(ok, condition="test", metric="accuracy")
    gain = (_per_seed(ok, condition="c1_kernel", state="trained", metric="neighbour_correlation")
            - _per_seed(ok, condition="c1_kernel", state="init", metric="neighbour_correlation")).dropna()
    mismatch = _per_seed(ok, condition="receptive_field", metric="max_mismatch")
    rf = dict(condition="receptive_field", state="trained", metric="measured")
    growth = (_per_seed(ok, layer="C3", **rf) / _per_seed(ok, layer="C1", **rf)).dropna()
    checks = [
        Check("LeNet-5 test error on mnist5k", *t_interval(err.to_numpy()), thresholds["test_error_max"], "<=",
              f"the paper's {PAPER_ERROR:.2%} is on full MNIST (17x more training digits)"),
        Check("C1 kernel structure gain (neighbour correlation, trained - init)", *t_interval(gain.to_numpy()),
              thresholds["kernel_structure_gain_min"], ">=", "learned kernels are spatial patterns, not noise"),
        Check("receptive field, largest measured-analytic difference over layers (px)", *t_interval(mismatch.to_numpy()),
              thresholds["rf_mismatch_max"], "<=", "r_out = r_in + (k-1) j_in, j_out = j_in s"),
        Check("receptive field growth C3 / C1 (measured)", *t_interval(growth.to_numpy()),
              thresholds["rf_growth_min"], ">=", "stacked convolutions see larger regions"),
    ]
    result = decide(checks)
    acc = _row(summary, condition="test", metric="accuracy")
    n_train = _row(summary, condition="final", metric="n_train")["mean"]
    result["note"] = (
        f"Paper anchor: LeNet-5 has 0.95 % test error on full MNIST (60,000 training digits; LeCun et al. 1998). "
        f"Here it trains on {n_train:,.0f} digits and reaches {1 - acc['mean']:.2%} "
        f"[{1 - acc['ci_high']:.2%}, {1 - acc['ci_low']:.2%}] test error on its test split; "
        "only the full scale with full MNIST compares with the paper's number directly. "
        "Receptive fields: the F5 unit sees the paper's whole 32x32 field, of which the 28x28 digit is the "
        "interior, so its measured field is the full image.")
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    def ci(row, scale=1.0, fmt="{:.2f}"):
        lo, hi = sorted((row["ci_low"] * scale, row["ci_high"] * scale))
        return f"{fmt.format(row['mean'] * scale)} [{fmt.format(lo)}, {fmt.format(hi)}]"

    acc = _row(summary, condition="test", metric="accuracy")
    err = {"mean": 1 - acc["mean"], "ci_low": 1 - acc["ci_high"], "ci_high": 1 - acc["ci_low"]}
    n_train = _row(summary, condition="final", metric="n_train")["mean"]
    params = _row(summary, condition="final", metric="params")["mean"]
    kc = {s: _row(summary, condition="c1_kernel", state=s, metric="neighbour_correlation") for s in ("init", "trained")}
    rows = [
        {"quantity": f"test error (%), {n_train:,.0f} training digits", "measured": ci(err, 100),
         "reference": "0.95 (paper, full MNIST, 60,000 training digits)"},
        {"quantity": "parameters", "measured": f"{params:,.0f}", "reference": f"{PAPER_PARAMS:,} (paper, sparse C3)"},
        {"quantity": "C1 kernel neighbour correlation, trained", "measured": ci(kc["trained"]),
         "reference": f"init {kc['init']['mean']:.2f}; white noise 0"},
    ]
    for layer in LAYERS:
        get = {(s, m): _row(summary, condition="receptive_field", layer=layer, state=s, metric=m)["mean"]
               for s in ("init", "trained") for m in ("measured", "analytic", "analytic_in_image", "jump")}
        rows.append({"quantity": f"receptive field of {layer} (px)",
                     "measured": f"{get[('trained', 'measured')]:.0f} trained, {get[('init', 'measured')]:.0f} init",
                     "reference": f"analytic {get[('trained', 'analytic')]:.0f} (jump {get[('trained', 'jump')]:.0f}),"
                                  f" {get[('trained', 'analytic_in_image')]:.0f} within the image"})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- figures

def _grid_values(rows: pd.DataFrame) -> np.ndarray:
    if len(rows) != 1:
        raise ValueError(f"expected one array row, found {len(rows)}")
    return unpack(rows.iloc[0])


def c1_kernels(table: pd.DataFrame, summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    k = select(table, condition="c1_kernel", metric="weights", status="ok")
    k = k[k["in_channel"] == 0]
    seeds = sorted(k["seed"].unique())
    panels = [("init", seeds[0], f"init (seed {seeds[0]})")] + [("trained", s, f"trained, seed {s}") for s in seeds]
    n_f = int(k["channel"].max()) + 1
    fig, axes = plt.subplots(len(panels), n_f, figsize=(1.1 * n_f + 1.2, 1.15 * len(panels)), squeeze=False)
    for r, (state, seed, label) in enumerate(panels):
        for f in range(n_f):
            ax = axes[r, f]
            w = _grid_values(select(k, state=state, seed=seed, channel=f))
            v = np.nanmax(np.abs(w)) or 1.0
            ax.imshow(w, cmap="RdBu_r", vmin=-v, vmax=v)
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            if r == 0:
                ax.set_title(f"kernel {f + 1}", fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle("LeNet-5 C1 kernels (5x5)", fontsize=10)
    fig.tight_layout()
    return fig


def feature_maps(table: pd.DataFrame, summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    fm = first_seed_run(select(table, condition="feature_map", metric="activations", status="ok"))
    seed = int(fm["seed"].iloc[0])
    digit = int(fm["digit"].dropna().iloc[0])
    cols = 8
    fig, axes = plt.subplots(3, cols, figsize=(cols * 1.15, 3 * 1.3))
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        ax.grid(False)
    axes[0, 0].imshow(_grid_values(select(fm, layer="input", channel=0)), cmap="gray_r")
    axes[0, 0].set_title(f"input ({digit})", fontsize=8)
    for c in range(6):
        ax = axes[0, c + 1]
        ax.imshow(_grid_values(select(fm, layer="C1", channel=c)), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"C1 map {c + 1}", fontsize=8)
    axes[0, 7].axis("off")
    for c in range(16):
        ax = axes[1 + c // cols, c % cols]
        im = ax.imshow(_grid_values(select(fm, layer="C3", channel=c)), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"C3 map {c + 1}", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.6, label="activation (tanh)")
    fig.suptitle(f"Feature maps of one test digit (trained LeNet-5, seed {seed})", fontsize=10)
    return fig


def receptive_fields(table: pd.DataFrame, summary: pd.DataFrame):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    grads = first_seed_run(select(table, condition="rf_gradient", metric="abs_grad", status="ok"))
    rf = select(summary, condition="receptive_field")
    fig = plt.figure(figsize=(9, 5.2))
    gs = fig.add_gridspec(2, len(LAYERS), height_ratios=[1, 1.1])
    box = {lay: (_row(rf, layer=lay, state="trained", metric="first")["mean"],
                 _row(rf, layer=lay, state="trained", metric="analytic")["mean"]) for lay in LAYERS}
    size = _grid_values(select(grads, layer=LAYERS[0])).shape[0]
    lo = min(0, *(f for f, _ in box.values())) - 1  # one frame for all panels, with the zero padding
    hi = max(size - 1, *(f + r - 1 for f, r in box.values())) + 1
    for i, layer in enumerate(LAYERS):
        ax = fig.add_subplot(gs[0, i])
        g = _grid_values(select(grads, layer=layer))
        first, r = box[layer]
        ax.set_facecolor("0.75")
        ax.imshow(g, cmap="magma", vmin=0, vmax=1)
        ax.add_patch(Rectangle((first - 0.5, first - 0.5), r, r, fill=False, ls="--", lw=1.2, ec="cyan"))
        ax.set_xlim(lo - 0.5, hi + 0.5), ax.set_ylim(hi + 0.5, lo - 0.5)
        ax.set_xticks([]), ax.set_yticks([])
        ax.grid(False)
        ax.set_title(f"{layer}: r = {r:.0f}", fontsize=9)
    ax = fig.add_subplot(gs[1, :])
    x = np.arange(len(LAYERS))
    series = [("analytic", "trained", "analytic", "-", "o"),
              ("analytic, clipped to the 28x28 image", "trained", "analytic_in_image", "--", "s"),
              ("measured at initialisation", "init", "measured", "none", "x"),
              ("measured after training", "trained", "measured", "none", "+")]
    for label, state, metric, ls, marker in series:
        y = [_row(rf, layer=lay, state=state, metric=metric)["mean"] for lay in LAYERS]
        ax.plot(x, y, ls=ls, marker=marker, ms=9 if marker in "x+" else 6, label=label)
    ax.set_xticks(x, LAYERS)
    ax.set(xlabel="layer", ylabel="receptive field (pixels)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
