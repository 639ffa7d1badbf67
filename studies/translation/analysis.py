"""translation: accuracy and consistency under shifts; sample efficiency of a shift-augmented MLP (pandas only)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference, two_way_interval
from convstudies.stats import example_matrix, paired_matrices, select
from convstudies.verdicts import Check, decide

CENTRED = ["mlp", "cnn_flatten", "cnn_gap"]


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add per-run rows: accuracy averaged over directions at each shift, and the drop at the largest shift."""
    sweep = select(table, condition="shift", metric="accuracy")
    if sweep.empty:
        return table
    keys = [c for c in table.columns if c not in ("direction", "value", "examples")]
    mean = sweep.groupby(keys, dropna=False, as_index=False)["value"].mean()
    mean["condition"] = "shift_mean"
    top = mean["shift"].max()
    at = mean.pivot_table(index=["point", "run"], columns="shift", values="value")
    drop = (at[0] - at[top]).rename("value").reset_index()
    base = mean[mean["shift"] == top].drop(columns=["value", "condition", "metric"])
    drop = base.merge(drop, on=["point", "run"]).assign(condition="shift_drop", metric="accuracy_drop")
    return pd.concat([table, mean, drop], ignore_index=True)


def efficiency_curves(summary: pd.DataFrame) -> pd.DataFrame:
    """Accuracy on randomly shifted digits of the augmented points, with their training-set size (``samples``)."""
    acc = select(summary, condition="random_shift", metric="accuracy")
    acc = acc[acc["point"].str.startswith("eff_")]
    n = select(summary, condition="final", metric="n_train")[["point", "mean"]].rename(columns={"mean": "samples"})
    return acc.merge(n, on="point")


def samples_to_match(summary: pd.DataFrame) -> dict:
    """Training digits the augmented MLP needs to reach the augmented CNN's accuracy at its smallest size.

    Log-linear interpolation on the MLP's curve of means; a lower bound when the MLP never
    gets there within the sizes run.
    """
    acc = efficiency_curves(summary)
    mlp = acc[acc["point"].str.startswith("eff_mlp")].sort_values("samples")
    cnn = acc[acc["point"].str.startswith("eff_cnn")].sort_values("samples")
    if mlp.empty or cnn.empty:
        return {}
    target_n, target = float(cnn["samples"].iloc[0]), float(cnn["mean"].iloc[0])
    out = {"cnn_samples": target_n, "cnn_accuracy": target, "mlp_max_samples": float(mlp["samples"].max()),
           "mlp_max_accuracy": float(mlp["mean"].max())}
    above = np.nonzero(mlp["mean"].to_numpy() >= target)[0]
    if len(above) == 0:
        out.update(mlp_samples=None, ratio_at_least=float(mlp["samples"].max()) / target_n)
        return out
    i = above[0]
    if i == 0:
        needed = float(mlp["samples"].iloc[0])
    else:
        (n0, n1), (a0, a1) = mlp["samples"].iloc[i - 1:i + 1], mlp["mean"].iloc[i - 1:i + 1]
        needed = float(np.exp(np.log(n0) + (target - a0) / (a1 - a0) * (np.log(n1) - np.log(n0))))
    out.update(mlp_samples=needed, ratio=needed / target_n)
    return out


def _efficiency_note(eff: dict) -> str:
    if eff.get("mlp_samples") is None:
        return (f"Sample efficiency: with shift augmentation the CNN reaches {eff['cnn_accuracy']:.3f} on shifted "
                f"digits from {eff['cnn_samples']:.0f} training digits; the MLP stays below that with "
                f"{eff['mlp_max_samples']:.0f} (best {eff['mlp_max_accuracy']:.3f}), so it needs more than "
                f"{eff['ratio_at_least']:.0f}x as many samples.")
    return (f"Sample efficiency: the augmented MLP needs about {eff['mlp_samples']:.0f} training digits to "
            f"reach the augmented CNN's {eff['cnn_accuracy']:.3f} at {eff['cnn_samples']:.0f} digits "
            f"({eff['ratio']:.1f}x as many).")


def _ok_seeds(table: pd.DataFrame, points) -> list:
    """Seeds whose runs finished (status ok) at every one of ``points``: the seeds arms are paired on."""
    seeds = [set(select(table, point=p, status="ok")["seed"]) for p in points]
    return sorted(set.intersection(*seeds)) if seeds else []


def shift_matrix(table: pd.DataFrame, examples: dict, point: str, shift) -> np.ndarray:
    """(seeds, test examples) correctness at ``shift`` pixels, averaged over the directions of the sweep."""
    rows = select(table, point=point, condition="shift", metric="accuracy", shift=shift)
    directions = sorted(rows["direction"].dropna().unique())
    return np.mean([example_matrix(table, examples, point=point, condition="shift", metric="accuracy", shift=shift,
                                   direction=d) for d in directions], axis=0)


def drop_interval(table: pd.DataFrame, examples: dict, point: str, top) -> tuple[float, float, float]:
    """Accuracy at shift 0 minus accuracy at ``top`` px (both averaged over directions): mean and an
    interval over seeds and test examples (two-way, on the per-example drop in [-1, 1])."""
    d = shift_matrix(table, examples, point, 0) - shift_matrix(table, examples, point, top)
    return two_way_interval(d, bounds=(-1.0, 1.0))


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    top = int(select(table, condition="shift", metric="accuracy")["shift"].max())
    cons_top = int(select(table, condition="consistency")["shift"].max())
    ok = table[table["seed"].isin(_ok_seeds(table, ["mlp", "cnn_gap"]))]
    mlp = drop_interval(ok, examples, "mlp", top)
    gap = drop_interval(ok, examples, "cnn_gap", top)
    cons = paired_difference(*paired_matrices(
        ok, examples, {"point": "cnn_gap", "condition": "consistency", "shift": cons_top},
        {"point": "mlp", "condition": "consistency", "shift": cons_top}))
    both = "95 % interval over seeds and test examples (two-way)"
    evidence = [
        Check(f"MLP accuracy drop at {top} px", *mlp, thresholds["mlp_drop_min"], ">=",
              f"a fully-connected net does not transfer to new positions; accuracy at 0 px minus the mean over "
              f"directions at {top} px, {both}"),
        Check(f"CNN-gap accuracy drop at {top} px", *gap, thresholds["gap_drop_max"], "<=",
              f"conv + global pooling is (nearly) invariant; the same drop, {both}"),
        Check(f"consistency gain of CNN-gap over MLP (shifts up to {cons_top} px)", *cons,
              thresholds["consistency_margin"], ">=",
              f"CNN-gap minus MLP consistency, paired on seeds and test examples, {both}"),
    ]
    result = decide(evidence)
    seeds = sorted(ok["seed"].unique())
    notes = [(f"Drops at {top} px (accuracy at 0 px minus at {top} px, mean over directions; {len(seeds)} seeds): "
              f"MLP {mlp[0]:.3f} [{mlp[1]:.3f}, {mlp[2]:.3f}], global-pooling CNN {gap[0]:.3f} "
              f"[{gap[1]:.3f}, {gap[2]:.3f}]; consistency gain {cons[0]:.3f} [{cons[1]:.3f}, {cons[2]:.3f}].")]
    eff = samples_to_match(summary)
    if eff:
        notes.append(_efficiency_note(eff))
        result["sample_efficiency"] = eff
    result["note"] = " ".join(notes)
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    acc = select(summary, condition="shift_mean", metric="accuracy", point=CENTRED)
    wide = acc.pivot_table(index="model", columns="shift", values="mean", sort=False)
    wide.columns = [f"acc @ {int(c)} px" for c in wide.columns]
    cons = select(summary, condition="consistency", point=CENTRED)
    cons = cons[cons["shift"] == cons["shift"].max()].set_index("model")["mean"].rename("consistency")
    params = select(summary, condition="final", metric="params", point=CENTRED).set_index("model")["mean"]
    return wide.join(cons).join(params.rename("parameters").astype(int)).reset_index()
