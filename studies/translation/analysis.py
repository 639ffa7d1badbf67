"""translation: accuracy and consistency under shifts; sample efficiency of a shift-augmented MLP (pandas only)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.stats import one_row, paired, select
from convstudies.verdicts import Check, decide

CENTRED = ["mlp", "cnn_flatten", "cnn_gap"]


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Add per-run rows: accuracy averaged over directions at each shift, and the drop at the largest shift."""
    sweep = select(table, condition="shift", metric="accuracy")
    if sweep.empty:
        return table
    keys = [c for c in table.columns if c not in ("direction", "value")]
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


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    drops = select(summary, condition="shift_drop", metric="accuracy_drop")
    top = int(drops["shift"].max())
    mlp, gap = one_row(drops, point="mlp"), one_row(drops, point="cnn_gap")
    cons_top = select(table, condition="consistency")["shift"].max()
    cons = paired(table, "cnn_gap", "mlp", condition="consistency", shift=cons_top)
    checks = [
        Check(f"MLP accuracy drop at {top} px", mlp["mean"], mlp["ci_low"], mlp["ci_high"],
              thresholds["mlp_drop_min"], ">=", "a fully-connected net does not transfer to new positions"),
        Check(f"CNN-gap accuracy drop at {top} px", gap["mean"], gap["ci_low"], gap["ci_high"],
              thresholds["gap_drop_max"], "<=", "conv + global pooling is (nearly) invariant"),
        Check(f"consistency gain of CNN-gap over MLP (shifts up to {cons_top} px)", *cons,
              thresholds["consistency_margin"], ">="),
    ]
    result = decide(checks)
    eff = samples_to_match(summary)
    if eff:
        result["note"] = _efficiency_note(eff)
        result["sample_efficiency"] = eff
    return result


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    acc = select(summary, condition="shift_mean", metric="accuracy", point=CENTRED)
    wide = acc.pivot_table(index="model", columns="shift", values="mean", sort=False)
    wide.columns = [f"acc @ {int(c)} px" for c in wide.columns]
    cons = select(summary, condition="consistency", point=CENTRED)
    cons = cons[cons["shift"] == cons["shift"].max()].set_index("model")["mean"].rename("consistency")
    params = select(summary, condition="final", metric="params", point=CENTRED).set_index("model")["mean"]
    return wide.join(cons).join(params.rename("parameters").astype(int)).reset_index()
