"""Synthetic tidy tables in the shape the workflow's ``tables`` step writes, for verdict and figure tests.

    table = synthetic_table({"mlp": {"model": "MLP"}, "cnn": {"model": "CNN"}}, values, seeds=(0, 1, 2))

``values(point, labels, seed)`` yields rows ``{"condition": ..., "metric": ..., "value": ..., **extra
columns}``; every row gets the run columns (study, point, labels, run, seed, status) and, with
``noise``, Gaussian noise of that standard deviation on its value.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import pandas as pd


def synthetic_table(points: dict[str, dict], values: Callable[[str, dict, int], Iterable[dict]],
                    seeds: Iterable[int] = (0, 1, 2), noise: float = 0.0, study: str = "study",
                    rng_seed: int = 0, status: Callable[[str, int], str] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(rng_seed)
    rows = []
    for point, labels in points.items():
        for seed in seeds:
            base = {"study": study, "point": point, **labels, "run": f"seed{seed}", "seed": seed,
                    "status": status(point, seed) if status else "ok"}
            for r in values(point, labels, seed):
                v = float(r["value"])
                if noise and r.get("noisy", True):
                    v += noise * float(rng.standard_normal())
                rows.append({**base, **{k: x for k, x in r.items() if k != "noisy"}, "value": v})
    return pd.DataFrame(rows)
