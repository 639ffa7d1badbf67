"""lenet5: LeNet-5's test error (beside the same layer sizes with ReLU and max pooling), its learned C1
kernels, feature maps, and receptive fields per layer.

The analytic receptive fields (from a layer geometry given as data: ``LeNet5.geometry()``),
kernel statistics, the array packing of table rows, the verdict and the key table; pandas and
numpy only. Evaluations in ``evaluations.py``, figures in ``figures.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference, seed_interval, two_way_interval
from convstudies.stats import example_matrix, one_row, paired_matrices, per_seed, select
from convstudies.verdicts import Check, decide

PAPER_ERROR = 0.0095   # LeCun et al. 1998, LeNet-5 on full MNIST (60k train / 10k test), no distortions
PAPER_ERROR_DISTORTED = 0.008  # the same with randomly distorted training digits (section III-C, fig. 9)
FAITHFUL, MODERN = "lenet5", "lenet5_relu_max"  # grid points: tanh + average subsampling; ReLU + max pooling
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

def faithful(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the faithful LeNet-5 (point ``lenet5``); a table without a ``point`` column is all faithful."""
    return df[df["point"] == FAITHFUL] if "point" in df else df


def first_seed_run(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the run with the lowest seed (the one the single-run figures show)."""
    return table[table["seed"] == table["seed"].min()]


def _worst(values: pd.Series, largest: bool = True) -> float:
    """The worst run's value (largest or smallest), NaN when none was measured."""
    v = values.dropna().to_numpy(dtype=float)
    if not len(v):
        return float("nan")
    return float(v.max() if largest else v.min())


def _errors(ok: pd.DataFrame, examples: dict, point: str) -> np.ndarray:
    """(seeds, test digits) 0/1 errors of one grid point."""
    return 1.0 - example_matrix(select(ok, point=point), examples, condition="test", metric="accuracy")


def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    """Evidence: the faithful LeNet-5's test error (per test digit, two-way interval over seeds and test
    digits) and its C1 kernel structure gain (no test set: t-interval over seeds). Invariants: the
    receptive fields (measured = analytic, and their growth), which the architecture fixes whether or
    not it is trained. Reported beside them: the ReLU/max-pool variant's error, the paired difference,
    and each variant's mean error against its competence target.
    """
    ok = table[table["status"] == "ok"]
    has_point = "point" in ok
    wrong = _errors(ok, examples, FAITHFUL) if has_point else \
        1.0 - example_matrix(ok, examples, condition="test", metric="accuracy")
    err = two_way_interval(wrong, bounds=(0.0, 1.0))
    f = faithful(ok)
    gain = (per_seed(f, condition="c1_kernel", state="trained", metric="neighbour_correlation")
            - per_seed(f, condition="c1_kernel", state="init", metric="neighbour_correlation")).dropna()
    mismatch = _worst(per_seed(f, condition="receptive_field", metric="max_mismatch"))
    rf = {"condition": "receptive_field", "state": "trained", "metric": "measured"}
    growth = _worst(per_seed(f, layer="C3", **rf) / per_seed(f, layer="C1", **rf), largest=False)
    evidence = [
        Check("LeNet-5 test error on mnist5k (tanh, average subsampling; affine distortions)", *err,
              thresholds["test_error_max"], "<=",
              f"competence target {thresholds['competence_error_faithful']:.1%} + 1 point; the paper's "
              f"{PAPER_ERROR:.2%} is on full MNIST (17x more training digits)"),
        Check("C1 kernel structure gain (neighbour correlation, trained - init)", *seed_interval(gain.to_numpy()),
              thresholds["kernel_structure_gain_min"], ">=", "learned kernels are spatial patterns, not noise"),
    ]
    invariants = [
        Check("receptive field, largest measured-analytic difference over layers (px, worst run)",
              mismatch, mismatch, mismatch, thresholds["rf_mismatch_max"], "<=",
              "r_out = r_in + (k-1) j_in, j_out = j_in s"),
        Check("receptive field growth C3 / C1 (measured, smallest over runs)", growth, growth, growth,
              thresholds["rf_growth_min"], ">=", "stacked convolutions see larger regions"),
    ]
    result = decide(evidence, invariants)
    n_train = one_row(faithful(summary), condition="final", metric="n_train")["mean"]
    seed_means = wrong.mean(axis=1)
    target_f = thresholds["competence_error_faithful"]
    notes = [
        (f"Paper anchors: LeNet-5 has {PAPER_ERROR * 100:.2f} % test error on full MNIST without distortions and "
         f"{PAPER_ERROR_DISTORTED * 100:.1f} % with distorted training digits (60,000 training digits; LeCun et al. "
         f"1998). Here it trains on {n_train:,.0f} digits and reaches {err[0]:.2%} [{err[1]:.2%}, {err[2]:.2%}] test "
         f"error on its {wrong.shape[1]:,} test digits ({wrong.shape[0]} seeds; the interval counts seed variation "
         "and test-set sampling); only the full scale with full MNIST compares with the paper's numbers directly."),
        (f"Competence: mean test error over seeds {_pct(seed_means.mean())} (tanh, average subsampling; target at "
         f"most {_pct(target_f)}: {'met' if seed_means.mean() <= target_f else 'missed'})"),
    ]
    if has_point and (ok["point"] == MODERN).any():
        wrong_m = _errors(ok, examples, MODERN)
        err_m = two_way_interval(wrong_m, bounds=(0.0, 1.0))
        target_m = thresholds["competence_error_modern"]
        a, b = paired_matrices(ok, examples, {"point": FAITHFUL, "condition": "test", "metric": "accuracy"},
                               {"point": MODERN, "condition": "test", "metric": "accuracy"})
        diff = paired_difference(1.0 - a, 1.0 - b, bounds=(0.0, 1.0))
        notes[-1] += (f"; {_pct(wrong_m.mean(axis=1).mean())} (ReLU, max pooling; target at most {_pct(target_m)}: "
                      f"{'met' if wrong_m.mean(axis=1).mean() <= target_m else 'missed'}).")
        notes.append(f"1998 vs modern practice on the same digits and recipe: ReLU and max pooling reach "
                     f"{err_m[0]:.2%} [{err_m[1]:.2%}, {err_m[2]:.2%}] test error; tanh and average subsampling "
                     f"cost {100 * diff[0]:+.2f} [{100 * diff[1]:+.2f}, {100 * diff[2]:+.2f}] points (paired by seed "
                     "and test digit; reported, not evidence).")
    else:
        notes[-1] += "."
    f5 = select(f, condition="receptive_field", layer="F5", state="trained") if "layer" in f else f.iloc[:0]
    if len(f5):
        get = {m: f5[f5["metric"] == m]["value"] for m in ("analytic", "analytic_in_image", "measured")}
        if all(len(v) for v in get.values()):
            lo, hi = get["measured"].min(), get["measured"].max()
            measured = f"{lo:.0f} px" if lo == hi else f"{lo:.0f}-{hi:.0f} px over runs"
            notes.append(f"Receptive fields: the F5 unit's analytic field is {get['analytic'].iloc[0]:.0f} px wide, "
                         f"of which {get['analytic_in_image'].iloc[0]:.0f} px lie in the digit image; its measured "
                         f"field (trained) is {measured}.")
    result["note"] = " ".join(notes)
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    def ci(row, scale=1.0, fmt="{:.2f}"):
        lo, hi = sorted((row["ci_low"] * scale, row["ci_high"] * scale))
        return f"{fmt.format(row['mean'] * scale)} [{fmt.format(lo)}, {fmt.format(hi)}]"

    def error(s):
        acc = one_row(s, condition="test", metric="accuracy")
        return {"mean": 1 - acc["mean"], "ci_low": 1 - acc["ci_high"], "ci_high": 1 - acc["ci_low"]}

    f = faithful(summary)
    n_train = one_row(f, condition="final", metric="n_train")["mean"]
    params = one_row(f, condition="final", metric="params")["mean"]
    kc = {s: one_row(f, condition="c1_kernel", state=s, metric="neighbour_correlation") for s in ("init", "trained")}
    rows = [
        {"quantity": f"test error (%), LeNet-5 (tanh, average subsampling), {n_train:,.0f} training digits",
         "measured": ci(error(f), 100),
         "reference": f"{PAPER_ERROR * 100:.2f} / {PAPER_ERROR_DISTORTED * 100:.1f} (paper, full MNIST, 60,000 "
                      "training digits, without / with distortions)"},
    ]
    if "point" in summary and (summary["point"] == MODERN).any():
        m = summary[summary["point"] == MODERN]
        rows.append({"quantity": "test error (%), same layers with ReLU and max pooling",
                     "measured": ci(error(m), 100),
                     "reference": "1998 vs modern practice: same digits, same recipe"})
    rows += [
        {"quantity": "parameters", "measured": f"{params:,.0f}", "reference": f"{PAPER_PARAMS:,} (paper, sparse C3)"},
        {"quantity": "C1 kernel neighbour correlation, trained", "measured": ci(kc["trained"]),
         "reference": f"init {kc['init']['mean']:.2f}; white noise 0"},
    ]
    for layer in LAYERS:
        get = {(s, m): one_row(f, condition="receptive_field", layer=layer, state=s, metric=m)["mean"]
               for s in ("init", "trained") for m in ("measured", "analytic", "analytic_in_image", "jump")}
        rows.append({"quantity": f"receptive field of {layer} (px)",
                     "measured": f"{get[('trained', 'measured')]:.0f} trained, {get[('init', 'measured')]:.0f} init",
                     "reference": f"analytic {get[('trained', 'analytic')]:.0f} (jump {get[('trained', 'jump')]:.0f}),"
                                  f" {get[('trained', 'analytic_in_image')]:.0f} within the image"})
    return pd.DataFrame(rows)
