"""Synthetic tidy tables in the shape the workflow's ``tables`` step writes, for verdict and figure tests.

    table = synthetic_table({"mlp": {"model": "MLP"}, "cnn": {"model": "CNN"}}, values, seeds=(0, 1, 2))

``values(point, labels, seed)`` yields rows ``{"condition": ..., "metric": ..., "value": ..., **extra
columns}``; every row gets the run columns (study, point, labels, run, seed, status) and, with
``noise``, Gaussian noise of that standard deviation on its value. A row may carry
``per_example`` (one value per test example, as evaluations give them); its value is then
their mean, the row gets an ``examples`` key, and ``examples_of(table)`` returns key -> array
as the verdict step passes them to a study's ``verdict``.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import pandas as pd


class Examples(dict):
    """key -> per-example array; equal only to itself, so pandas can compare tables' ``attrs``."""

    def __eq__(self, other):
        return self is other

    __hash__ = object.__hash__


def synthetic_table(points: dict[str, dict], values: Callable[[str, dict, int], Iterable[dict]],
                    seeds: Iterable[int] = (0, 1, 2), noise: float = 0.0, study: str = "study",
                    rng_seed: int = 0, status: Callable[[str, int], str] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(rng_seed)
    rows, examples = [], {}
    for point, labels in points.items():
        for seed in seeds:
            base = {"study": study, "point": point, **labels, "run": f"seed{seed}", "seed": seed,
                    "status": status(point, seed) if status else "ok"}
            for r in values(point, labels, seed):
                r = dict(r)
                per_example = r.pop("per_example", None)
                if per_example is not None:
                    key = f"{point}/seed{seed}/{len(rows)}"
                    examples[key] = np.asarray(per_example, dtype=np.float32)
                    r.update(value=float(examples[key].mean()), examples=key)
                v = float(r["value"])
                if noise and r.get("noisy", True) and per_example is None:
                    v += noise * float(rng.standard_normal())
                rows.append({**base, **{k: x for k, x in r.items() if k != "noisy"}, "value": v})
    table = pd.DataFrame(rows)
    table.attrs["examples"] = Examples(examples)
    return table


def examples_of(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The per-example values of a synthetic table (key -> array)."""
    return table.attrs.get("examples", {})


def with_examples(fn, table: pd.DataFrame) -> pd.DataFrame:
    """``fn(table)`` (a study's ``derive``) with the synthetic table's per-example arrays carried
    over to the result (pandas keeps ``attrs`` only where every concatenated frame has them)."""
    ex = table.attrs.pop("examples", {})
    out = fn(table)
    out.attrs["examples"] = ex
    return out
