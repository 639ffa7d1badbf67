"""mlp_depth: parameters, train/test accuracy and generalisation gap of deeper and wider MLPs; a CNN reference.

Pandas only: the gap rows, the verdict and the key table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference, two_way_interval
from convstudies.stats import example_matrix, one_row, paired, per_seed, select
from convstudies.verdicts import Check, decide

SHALLOW, DEEP = "depth-depth1", "depth-depth8"
CNN = "cnn"


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add rows per run: the generalisation gap (accuracy on the training digits minus test accuracy)
    and the learning-curve quantities (:func:`curve_rows`)."""
    parts = [table]
    acc = select(table, metric="accuracy", condition=["train", "test"], status="ok")
    wide = (acc.pivot_table(index=["point", "run"], columns="condition", values="value", aggfunc="first")
            if not acc.empty else pd.DataFrame())
    base = select(table, condition="final", metric="params").drop(columns=["condition", "metric", "value"])
    if {"train", "test"} <= set(wide.columns):
        gap = (wide["train"] - wide["test"]).rename("value").reset_index()
        parts.append(base.merge(gap, on=["point", "run"]).assign(condition="gap", metric="accuracy_gap"))
    parts.append(curve_rows(table, base))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else table


CURVE_METRICS = ("best_val_epoch", "last_epoch", "val_acc_best", "val_acc_last", "val_acc_lost", "gap_best",
                 "gap_last")


def curve_rows(table: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Per run, from its learning curves (condition ``epoch``: training and validation accuracy after
    every epoch), rows of condition ``curve``: the epoch (1-based) of the best validation accuracy
    (the first one when tied) and the last epoch, validation accuracy there and the accuracy lost by
    training on (best - last), and the train - validation gap at both epochs.

    The training accuracy of an epoch is the running mean over that epoch's batches (as the
    engine records it); it lags the weights at the epoch's end, so these gaps err low. The best
    epoch maximises a noisy curve: its validation accuracy errs high and ``val_acc_lost`` is at
    least 0 by construction; the gap there errs low again.
    """
    ep = select(table, condition="epoch", metric=["train_acc", "val_acc"], status="ok")
    if ep.empty or "epoch" not in ep:
        return pd.DataFrame()
    wide = ep.pivot_table(index=["point", "run", "epoch"], columns="metric", values="value", aggfunc="first")
    if not {"train_acc", "val_acc"} <= set(wide.columns):
        return pd.DataFrame()
    rows = []
    for (point, run), g in wide.reset_index().sort_values("epoch").groupby(["point", "run"], sort=False):
        g = g.dropna(subset=["val_acc", "train_acc"])
        if g.empty:
            continue
        best, last = g.loc[g["val_acc"].idxmax()], g.iloc[-1]
        values = {"best_val_epoch": best["epoch"] + 1, "last_epoch": last["epoch"] + 1,
                  "val_acc_best": best["val_acc"], "val_acc_last": last["val_acc"],
                  "val_acc_lost": best["val_acc"] - last["val_acc"],
                  "gap_best": best["train_acc"] - best["val_acc"], "gap_last": last["train_acc"] - last["val_acc"]}
        rows += [{"point": point, "run": run, "metric": k, "value": float(v)} for k, v in values.items()]
    if not rows:
        return pd.DataFrame()
    return base.merge(pd.DataFrame(rows), on=["point", "run"]).assign(condition="curve")


def _mean(summary, point, **conds) -> float:
    return float(one_row(summary, point=point, **conds)["mean"])


def mlp_points(summary: pd.DataFrame) -> list[str]:
    return sorted(p for p in summary["point"].unique() if p != CNN)


def label(summary: pd.DataFrame, point: str) -> str:
    """``CNN`` or ``<depth>x<width>`` (hidden layers x units) of an MLP point."""
    row = select(summary, point=point).iloc[0]
    if point == CNN:
        return "CNN"
    return f"{int(row['depth'])}x{int(row['width'])}"


def ok_seeds(table: pd.DataFrame, *points: str) -> list:
    """Seeds whose runs finished (status ok) at every one of ``points``: the seeds arms are paired on."""
    return sorted(set.intersection(*(set(select(table, point=p, status="ok")["seed"]) for p in points)))


def test_matrix(table: pd.DataFrame, examples: dict, point: str, seeds) -> np.ndarray:
    """(seeds, test digits) correctness of ``point``'s runs on ``seeds``."""
    return example_matrix(table[table["seed"].isin(seeds)], examples, point=point, condition="test",
                          metric="accuracy", status="ok")


def gap_matrix(table: pd.DataFrame, examples: dict, point: str, seeds) -> np.ndarray:
    """Per seed and test digit: accuracy on the training digits minus correctness on the test digit.

    Its mean is the generalisation gap; the training accuracy is one number per seed (a seed
    effect), the test part varies over test digits, so a two-way interval of this matrix counts
    seeds and test-set sampling.
    """
    train = per_seed(table, point=point, condition="train", metric="accuracy", status="ok").reindex(seeds)
    return train.to_numpy(dtype=float)[:, None] - test_matrix(table, examples, point, seeds)


def _ci(est) -> str:
    return f"{est[0]:.3f} [{est[1]:.3f}, {est[2]:.3f}]"


def _twin_note(table, examples, summary, params, gaps, width_pts) -> str | None:
    """The width-sweep MLP with (within 5 %) the 8-layer MLP's parameters, and their gap difference."""
    twin = min(width_pts, key=lambda p: abs(params[p] - params[DEEP]), default=None)
    if twin is None or abs(params[twin] / params[DEEP] - 1) >= 0.05:
        return None
    seeds = ok_seeds(table, DEEP, twin)
    d, lo, hi = paired_difference(gap_matrix(table, examples, DEEP, seeds), gap_matrix(table, examples, twin, seeds),
                                  bounds=(-1.0, 1.0))
    what = ("so at this scale the extra overfitting comes with depth, not with the parameter count alone"
            if lo > 0 else "so the twin overfits more than the 8-layer MLP" if hi < 0
            else "an interval that contains 0: no difference is shown")
    return (f"Same parameters without the depth: the {label(summary, twin)} MLP ({params[twin]:,.0f} "
            f"parameters) has a gap of {gaps[twin]:.3f} against {gaps[DEEP]:.3f} for 8x256 "
            f"({params[DEEP]:,.0f}); difference (8x256 - {label(summary, twin)}, paired on seeds and test digits) "
            f"{d:.3f} [{lo:.3f}, {hi:.3f}], {what}.")


def depth_param_error(summary: pd.DataFrame, params: dict) -> float:
    """Largest |params(L layers) - params(1 layer) - (L - 1)(w^2 + 3w)| over the depth sweep (width w):
    every extra hidden layer of w units adds a w x w weight matrix, w biases and 2w batch-norm
    parameters (scale and shift)."""
    rows = select(summary, condition="final", metric="params")
    rows = rows[rows["point"].str.startswith("depth-")]
    errors = [abs(params[r.point] - params[SHALLOW] - (r.depth - 1) * (r.width ** 2 + 3 * r.width))
              for r in rows.itertuples()]
    return float(max(errors)) if errors else np.nan


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    params = {p: _mean(summary, p, condition="final", metric="params") for p in summary["point"].unique()}
    growth = params[DEEP] / params[SHALLOW]
    mlps = mlp_points(summary)
    val = {p: _mean(summary, p, condition="final", metric="val_acc") for p in mlps}
    best = max(val, key=val.get)  # selected on validation accuracy, never on the test digits
    smallest = min(mlps, key=params.get)
    fraction = params[CNN] / params[smallest]
    seeds = ok_seeds(table, DEEP, SHALLOW)
    g_deep, g_shallow = gap_matrix(table, examples, DEEP, seeds), gap_matrix(table, examples, SHALLOW, seeds)
    gap_deep = two_way_interval(g_deep, bounds=(-1.0, 1.0))
    increase = paired_difference(g_deep, g_shallow, bounds=(-1.0, 1.0))
    cnn_seeds = ok_seeds(table, CNN, best)
    margin = paired_difference(test_matrix(table, examples, CNN, cnn_seeds), test_matrix(table, examples, best, cnn_seeds))
    both = "95 % interval over seeds and test digits (two-way)"
    evidence = [
        Check("generalisation gap of the 8-layer MLP", *gap_deep, thresholds["gap_min"], ">=",
              f"train accuracy - test accuracy; {both}"),
        Check("gap increase from 1 to 8 hidden layers", *increase, thresholds["depth_gap_increase_min"], ">=",
              f"depth adds overfitting; paired on seeds and test digits, {both}"),
        Check(f"CNN test accuracy - best MLP on validation ({label(summary, best)})", *margin,
              thresholds["cnn_margin_min"], ">=",
              f"the CNN generalises at least as well as the MLP with the highest validation accuracy; paired on "
              f"seeds and test digits, {both}"),
    ]
    dep_err = depth_param_error(summary, params)
    invariants = [
        Check("parameters: 8 / 1 hidden layers (width 256)", growth, growth, growth,
              thresholds["param_growth_min"], ">=", "parameter arithmetic: every hidden layer adds width^2 + 3 width"),
        Check("parameters: |measured - formula| for the depth sweep, params(1) + (L - 1)(w^2 + 3w)", dep_err, dep_err,
              dep_err, 0.0, "<=", "parameter arithmetic (a hidden layer: weights, biases, batch-norm scale and shift)"),
        Check(f"CNN parameters / smallest MLP ({label(summary, smallest)})", fraction, fraction, fraction,
              thresholds["cnn_param_fraction_max"], "<=", "with far fewer parameters (parameter arithmetic)"),
    ]
    result = decide(evidence, invariants)
    gaps = {p: _mean(summary, p, condition="gap") for p in mlps + [CNN]}
    train = {p: _mean(summary, p, condition="train", metric="accuracy") for p in mlps}
    depth_pts = sorted((p for p in mlps if p.startswith("depth-")), key=lambda p: params[p])
    width_pts = sorted((p for p in mlps if p.startswith("width-")), key=lambda p: params[p])
    trend = ", ".join(f"{label(summary, p)}: {gaps[p]:.3f}" for p in depth_pts)
    wtrend = ", ".join(f"{label(summary, p)}: {gaps[p]:.3f}" for p in width_pts)
    note = [(f"Generalisation gaps (train - test accuracy, means over seeds) by depth: {trend}; by width at depth "
             f"2: {wtrend}; CNN: {gaps[CNN]:.3f} with {params[CNN]:,.0f} parameters against {params[SHALLOW]:,.0f}-"
             f"{params[DEEP]:,.0f} for the depth sweep. Accuracy on the training digits: MLPs "
             f"{min(train.values()):.3f}-{max(train.values()):.3f}. Best MLP on validation: {label(summary, best)} "
             f"(validation accuracy {val[best]:.3f}); CNN minus it on the test digits {_ci(margin)}.")]
    twin = _twin_note(table, examples, summary, params, gaps, width_pts)
    if twin:
        note.append(twin)
    curves = curve_note(summary, depth_pts + [CNN])
    if curves:
        note.append(curves)
        early = early_stop_increase(table)
        if early is not None:
            note.append(f"Gap at the epoch of best validation accuracy, 8 minus 1 hidden layers: {_ci(early)} "
                        f"(paired by seed, t-interval over seeds on the fixed validation digits; not evidence).")
    outcome, thr = result["evidence"][1]["outcome"], thresholds["depth_gap_increase_min"]
    if outcome == "fail":
        note.append(f"Deeper MLPs do not overfit more at this scale by the pre-registered margin: the gap increase "
                    f"from 1 to 8 hidden layers is {_ci(increase)}, below {thr}.")
    elif outcome == "inconclusive":
        note.append(f"Whether depth adds overfitting is not decided at this scale: the gap increase from 1 to 8 "
                    f"hidden layers is {_ci(increase)}, an interval containing the threshold {thr}.")
    result["note"] = " ".join(note)
    return result


def curve_mean(summary: pd.DataFrame, point: str, metric: str) -> float:
    """Mean over seeds of a learning-curve quantity (:func:`curve_rows`); NaN when the runs recorded no curves."""
    rows = select(summary, point=point, condition="curve", metric=metric)
    return float(rows["mean"].iloc[0]) if len(rows) == 1 else np.nan


def curve_note(summary: pd.DataFrame, points: list[str]) -> str | None:
    """What the learning curves say, per arm: the epoch of best validation accuracy against the last,
    the validation accuracy lost by training on, and the train - validation gap at both epochs."""
    parts = []
    for p in points:
        best, last = curve_mean(summary, p, "best_val_epoch"), curve_mean(summary, p, "last_epoch")
        if np.isnan(best):
            continue
        parts.append(f"{label(summary, p)}: best at epoch {best:.1f} of {last:.0f}, validation accuracy "
                     f"{curve_mean(summary, p, 'val_acc_best'):.3f} there and "
                     f"{curve_mean(summary, p, 'val_acc_last'):.3f} at the end, gap "
                     f"{curve_mean(summary, p, 'gap_best'):.3f} there and {curve_mean(summary, p, 'gap_last'):.3f} "
                     f"at the end")
    if not parts:
        return None
    return ("Learning curves (training accuracy as the running mean over each epoch, validation accuracy after "
            "it; means over seeds): " + "; ".join(parts) + ". A gap that stays at the epoch of best validation "
            "accuracy is overfitting that stopping early would not remove.")


def early_stop_increase(table: pd.DataFrame) -> tuple[float, float, float] | None:
    """Gap at the epoch of best validation accuracy, 8 minus 1 hidden layers: mean and 95 % t-interval over
    seeds (paired by seed; the validation digits are fixed, so only seed variation is counted). None
    without learning curves."""
    if select(table, condition="curve", metric="gap_best").empty:
        return None
    est = paired(table, DEEP, SHALLOW, condition="curve", metric="gap_best", status="ok")
    return None if np.isnan(est[0]) else est


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    points = mlp_points(summary) + [CNN]
    for p in points:
        rows.append({
            "model": "CNN (8@5x5, 16@3x3)" if p == CNN else f"MLP {label(summary, p)} (hidden layers x units)",
            "parameters": int(_mean(summary, p, condition="final", metric="params")),
            "train accuracy": _mean(summary, p, condition="train", metric="accuracy"),
            "test accuracy": _mean(summary, p, condition="test", metric="accuracy"),
            "gap": _mean(summary, p, condition="gap"),
            "best val epoch": curve_mean(summary, p, "best_val_epoch"),
            "epochs": curve_mean(summary, p, "last_epoch"),
            "val acc (best epoch)": curve_mean(summary, p, "val_acc_best"),
            "val acc (last epoch)": curve_mean(summary, p, "val_acc_last"),
            "gap at best val epoch": curve_mean(summary, p, "gap_best"),
        })
    out = pd.DataFrame(rows)
    order = [p != CNN for p in points]
    return out.assign(_mlp=order).sort_values(["_mlp", "parameters"], ascending=[False, True]).drop(columns="_mlp")


def with_params(summary: pd.DataFrame, points, **conds) -> pd.DataFrame:
    """Summary rows of ``points`` matching ``conds``, with the points' mean parameter count (``parameters``)."""
    rows = select(summary, point=points, **conds)
    params = select(summary, point=points, condition="final", metric="params")[["point", "mean"]]
    return rows.merge(params.rename(columns={"mean": "parameters"}), on="point")
