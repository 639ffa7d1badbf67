"""The analysis steps the workflow's rules run per study: tables, figures, verdict. No torch.

A study's code is split by what it needs (``studies/<id>/``): ``analysis.py`` (pandas: derive,
key table, verdict) and ``figures.py`` (matplotlib: one function per figure); its torch
evaluations run inside training jobs only.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pandas as pd

from .config import load_study
from .stats import summarize
from .tables import collect


def study_analysis(study: str):
    return importlib.import_module(f"convstudies.studies.{study}.analysis")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def read(table: Path, summary: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(table), pd.read_csv(summary)


def tables(study: str, summaries: list[Path], table_out: Path, summary_out: Path) -> None:
    """The tidy table of every run of a study (with the study's derived rows) and its summary over seeds."""
    table = collect(summaries)
    table = getattr(study_analysis(study), "derive", lambda t: t)(table)
    write_csv(table, table_out)
    write_csv(summarize(table), summary_out)


def figures(study: str, table: Path, summary: Path, outs: dict[str, Path]) -> None:
    """Draw the named figures of a study (figure name -> PNG path) from its tables."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid")
    module = importlib.import_module(f"convstudies.studies.{study}.figures")
    data = read(table, summary)
    for name, out in outs.items():
        fig = getattr(module, name)(*data)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=130, bbox_inches="tight")
        plt.close(fig)


def verdict(study: str, table: Path, summary: Path, out: Path) -> dict:
    """Decide a study's claim from its tables and pre-registered thresholds; write the claims JSON."""
    spec = load_study(study)
    result = study_analysis(study).verdict(*read(table, summary), spec["thresholds"])
    claim = {"study": study, "claim": spec["claim"], "verdict": result["verdict"],
             "evidence": result["evidence"], "thresholds": spec["thresholds"],
             **({"note": result["note"]} if result.get("note") else {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(claim, indent=1))
    return claim
