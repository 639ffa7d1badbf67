"""Statistics over seeds: 95 % intervals, summaries of tidy tables, rows and paired differences."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .intervals import seed_interval as t_interval  # the t-interval over seeds, one definition

RUN_COLUMNS = ("run", "seed", "value", "status", "examples")


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and 95 % CI over seeds for every point, condition and metric (diverged runs excluded)."""
    ok = table[table["status"] == "ok"]
    keys = [c for c in table.columns if c not in RUN_COLUMNS]
    out = []
    for key, g in ok.groupby(keys, dropna=False, sort=False):
        m, lo, hi = t_interval(g["value"].to_numpy())
        out.append({**dict(zip(keys, key)), "mean": m, "ci_low": lo, "ci_high": hi,
                    "sd": float(g["value"].std(ddof=1)) if len(g) > 1 else np.nan, "n": len(g)})
    summary = pd.DataFrame(out)
    n_div = table[table["status"] != "ok"].groupby("point")["run"].nunique()
    summary["n_diverged"] = summary["point"].map(n_div).fillna(0).astype(int)
    return summary


def select(df: pd.DataFrame, **conds) -> pd.DataFrame:
    """Rows where every column equals the given value (a list means 'is one of')."""
    mask = pd.Series(True, index=df.index)
    for k, v in conds.items():
        mask &= df[k].isin(v) if isinstance(v, (list, tuple)) else (df[k] == v)
    return df[mask]


def one_row(summary: pd.DataFrame, **conds) -> pd.Series:
    """The single summary row matching ``conds``; anything else is an error naming the conditions."""
    rows = select(summary, **conds)
    if len(rows) != 1:
        raise ValueError(f"expected one summary row for {conds}, found {len(rows)}")
    return rows.iloc[0]


def per_seed(table: pd.DataFrame, **conds) -> pd.Series:
    """Values of the runs matching ``conds``, indexed by seed."""
    return select(table, **conds).set_index("seed")["value"]


def paired_interval(table: pd.DataFrame, a: dict, b: dict) -> tuple[float, float, float]:
    """Mean and 95 % t-interval over seeds of (a - b), the runs of ``a`` and ``b`` paired by seed."""
    return t_interval((per_seed(table, **a) - per_seed(table, **b)).dropna().to_numpy())


def paired(table: pd.DataFrame, point_a: str, point_b: str, **conds) -> tuple[float, float, float]:
    """:func:`paired_interval` of two grid points under the same conditions."""
    return paired_interval(table, {"point": point_a, **conds}, {"point": point_b, **conds})


def example_matrix(table: pd.DataFrame, examples: dict, **conds) -> np.ndarray:
    """Per-example values of the runs matching ``conds``: an array (seeds, examples), rows in seed order.

    The rows selected must be one per seed and carry an ``examples`` key (evaluations that
    return ``per_example`` values); the arrays come from ``examples`` (the tables step's npz).
    """
    rows = select(table, **conds)
    if rows.empty or "examples" not in rows or rows["examples"].isna().any():
        raise ValueError(f"no per-example values for {conds}: the evaluation must return per_example values")
    if rows["seed"].duplicated().any():
        raise ValueError(f"more than one row per seed for {conds}; add conditions")
    rows = rows.sort_values("seed")
    arrays = [np.asarray(examples[k], dtype=float) for k in rows["examples"]]
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(f"runs for {conds} were evaluated on different numbers of examples")
    return np.stack(arrays)


def paired_matrices(table: pd.DataFrame, examples: dict, a: dict, b: dict) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, examples) arrays of two arms on the seeds both have, in seed order, for paired intervals."""
    seeds = sorted(set(select(table, **a)["seed"]) & set(select(table, **b)["seed"]))
    return (example_matrix(table[table["seed"].isin(seeds)], examples, **a),
            example_matrix(table[table["seed"].isin(seeds)], examples, **b))
