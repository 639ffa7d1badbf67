"""Tidy tables: one row per run, seed, evaluation condition and metric, from the job summaries.

Beside the table: the per-example values of the evaluations (``examples``: key -> array, the
key in the table's ``examples`` column) and one row per run with what it ran on (``runs``:
git revision, dirty tree, code hash, start time), which the verdict's registration audit reads.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def run_rows(study: str, point: str, labels: dict, run: dict) -> list[dict]:
    """Tidy rows of one run directory: its evaluations plus final training metrics."""
    metrics = json.loads((Path(run["dir"]) / "metrics.json").read_text())
    base = {"study": study, "point": point, **labels, "run": run["run"], "seed": run["seed"],
            "status": metrics["status"]}
    rows = [{**base, **r} for r in metrics.get("evaluations", [])]
    for r in rows:
        if "examples" in r:
            r["examples"] = f"{point}/{run['run']}/{r['examples']}"
    final = {**metrics.get("final", {}), "params": metrics["params"], "n_train": metrics["n_train"],
             "train_images_per_s": metrics.get("train_images_per_s")}
    rows += [{**base, "condition": "final", "metric": k, "value": v} for k, v in final.items()]
    for ep in metrics.get("epochs", []):  # learning curves: one row per epoch and metric
        rows += [{**base, "condition": "epoch", "epoch": ep["epoch"], "metric": k, "value": v}
                 for k, v in ep.items() if k != "epoch"]
    if metrics["status"] != "ok":
        rows.append({**base, "condition": "final", "metric": "diverged", "value": 1.0})
    return rows


def _runs(summaries):
    for s in summaries:
        job = json.loads(Path(s).read_text())
        for run in job["runs"]:
            yield job, run


def collect(summaries: list[str | Path]) -> pd.DataFrame:
    """One row per run, seed, evaluation condition and metric, from job summary files."""
    rows = []
    for job, run in _runs(summaries):
        rows += run_rows(job["study"], run["point"], run["labels"], run)
    return pd.DataFrame(rows)


def collect_examples(summaries: list[str | Path]) -> dict[str, np.ndarray]:
    """Per-example values of every run (``<point>/<run>/<row>`` -> array), as the table's ``examples`` column names them."""
    out = {}
    for _, run in _runs(summaries):
        path = Path(run["dir"]) / "per_example.npz"
        if path.exists():
            with np.load(path) as npz:
                out.update({f"{run['point']}/{run['run']}/{k}": npz[k] for k in npz.files})
    return out


def collect_runs(summaries: list[str | Path]) -> pd.DataFrame:
    """One row per run: point, seed, run, git revision, dirty tree, code hash, start time."""
    rows = []
    for _, run in _runs(summaries):
        prov = json.loads((Path(run["dir"]) / "provenance.json").read_text())
        runtime = prov.get("runtime", {})
        rows.append({"point": run["point"], "seed": run["seed"], "run": run["run"],
                     "git": prov.get("git", {}).get("revision"), "dirty": prov.get("git", {}).get("dirty"),
                     "code": (runtime.get("execution") or {}).get("code"), "started": runtime.get("started")})
    return pd.DataFrame(rows, columns=["point", "seed", "run", "git", "dirty", "code", "started"])


def save_examples(examples: dict[str, np.ndarray], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object: numpy would append .npz to a path
        np.savez_compressed(f, **examples)


def load_examples(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}
