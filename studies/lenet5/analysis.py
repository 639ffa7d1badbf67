"""lenet5: LeNet-5's test error, its learned C1 kernels, feature maps, and receptive fields per layer.

The analytic receptive fields (from a layer geometry given as data: ``LeNet5.geometry()``),
kernel statistics, the array packing of table rows, the verdict and the key table; pandas and
numpy only. Evaluations in ``evaluations.py``, figures in ``figures.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.stats import one_row, per_seed, t_interval
from convstudies.verdicts import Check, decide

PAPER_ERROR = 0.0095   # LeCun et al. 1998, LeNet-5 on full MNIST (60k train / 10k test), no distortions
PAPER_PARAMS = 60_000  # the paper's count, with C3's sparse connection table
LAYERS = ["C1", "S2", "C3", "S4", "F5"]


# ---------------------------------------------------------------- receptive fields (analytic)

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


# ---------------------------------------------------------------- kernels and table arrays

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


# ---------------------------------------------------------------- verdict and table

def first_seed_run(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the run with the lowest seed (the one the single-run figures show)."""
    return table[table["seed"] == table["seed"].min()]


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    ok = table[table["status"] == "ok"]
    err = 1.0 - per_seed(ok, condition="test", metric="accuracy")
    gain = (per_seed(ok, condition="c1_kernel", state="trained", metric="neighbour_correlation")
            - per_seed(ok, condition="c1_kernel", state="init", metric="neighbour_correlation")).dropna()
    mismatch = per_seed(ok, condition="receptive_field", metric="max_mismatch")
    rf = dict(condition="receptive_field", state="trained", metric="measured")
    growth = (per_seed(ok, layer="C3", **rf) / per_seed(ok, layer="C1", **rf)).dropna()
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
    acc = one_row(summary, condition="test", metric="accuracy")
    n_train = one_row(summary, condition="final", metric="n_train")["mean"]
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

    acc = one_row(summary, condition="test", metric="accuracy")
    err = {"mean": 1 - acc["mean"], "ci_low": 1 - acc["ci_high"], "ci_high": 1 - acc["ci_low"]}
    n_train = one_row(summary, condition="final", metric="n_train")["mean"]
    params = one_row(summary, condition="final", metric="params")["mean"]
    kc = {s: one_row(summary, condition="c1_kernel", state=s, metric="neighbour_correlation") for s in ("init", "trained")}
    rows = [
        {"quantity": f"test error (%), {n_train:,.0f} training digits", "measured": ci(err, 100),
         "reference": "0.95 (paper, full MNIST, 60,000 training digits)"},
        {"quantity": "parameters", "measured": f"{params:,.0f}", "reference": f"{PAPER_PARAMS:,} (paper, sparse C3)"},
        {"quantity": "C1 kernel neighbour correlation, trained", "measured": ci(kc["trained"]),
         "reference": f"init {kc['init']['mean']:.2f}; white noise 0"},
    ]
    for layer in LAYERS:
        get = {(s, m): one_row(summary, condition="receptive_field", layer=layer, state=s, metric=m)["mean"]
               for s in ("init", "trained") for m in ("measured", "analytic", "analytic_in_image", "jump")}
        rows.append({"quantity": f"receptive field of {layer} (px)",
                     "measured": f"{get[('trained', 'measured')]:.0f} trained, {get[('init', 'measured')]:.0f} init",
                     "reference": f"analytic {get[('trained', 'analytic')]:.0f} (jump {get[('trained', 'jump')]:.0f}),"
                                  f" {get[('trained', 'analytic_in_image')]:.0f} within the image"})
    return pd.DataFrame(rows)
