"""Tidy tables: one row per run, seed, evaluation condition and metric, from the job summaries."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def run_rows(study: str, point: str, labels: dict, run: dict) -> list[dict]:
    """Tidy rows of one run directory: its evaluations plus final training metrics."""
    metrics = json.loads((Path(run["dir"]) / "metrics.json").read_text())
    base = {"study": study, "point": point, **labels, "run": run["run"], "seed": run["seed"],
            "status": metrics["status"]}
    rows = [{**base, **r} for r in metrics.get("evaluations", [])]
    final = {**metrics.get("final", {}), "params": metrics["params"], "n_train": metrics["n_train"],
             "train_images_per_s": metrics.get("train_images_per_s")}
    rows += [{**base, "condition": "final", "metric": k, "value": v} for k, v in final.items()]
    for ep in metrics.get("epochs", []):  # learning curves: one row per epoch and metric
        rows += [{**base, "condition": "epoch", "epoch": ep["epoch"], "metric": k, "value": v}
                 for k, v in ep.items() if k != "epoch"]
    if metrics["status"] != "ok":
        rows.append({**base, "condition": "final", "metric": "diverged", "value": 1.0})
    return rows


def collect(summaries: list[str | Path]) -> pd.DataFrame:
    """One row per run, seed, evaluation condition and metric, from job summary files."""
    rows = []
    for s in summaries:
        job = json.loads(Path(s).read_text())
        for run in job["runs"]:
            rows += run_rows(job["study"], run["point"], run["labels"], run)
    return pd.DataFrame(rows)
