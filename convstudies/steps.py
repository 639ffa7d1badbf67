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

from .anchors import anchors
from .config import load_study, study_file
from .registration import audit
from .stats import summarize
from .tables import collect, collect_examples, collect_runs, load_examples, save_examples


def study_analysis(study: str):
    return importlib.import_module(f"convstudies.studies.{study}.analysis")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def read(table: Path, summary: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(table), pd.read_csv(summary)


def tables(study: str, summaries: list[Path], table_out: Path, summary_out: Path,
           examples_out: Path | None = None, runs_out: Path | None = None) -> None:
    """The tidy table of every run of a study (with the study's derived rows), its summary over
    seeds, the runs' per-example values and the runs' provenance (what the verdict audits).

    Every run file is read before any output is written. One that cannot be read (a damaged
    run) stops the step with SystemExit: one message naming the file and what to do, no traceback.
    """
    from .tables import RunFileError

    try:
        table = collect(summaries)
        examples = collect_examples(summaries) if examples_out is not None else None
        runs = collect_runs(summaries) if runs_out is not None else None
    except RunFileError as e:
        raise SystemExit(f"error: tables of study {study}: {e}") from None
    table = getattr(study_analysis(study), "derive", lambda t: t)(table)
    write_csv(table, table_out)
    write_csv(summarize(table), summary_out)
    if examples is not None:
        save_examples(examples, examples_out)
    if runs is not None:
        write_csv(runs, runs_out)


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
        # a study's own figure, else one of the figures any study can list (convstudies.figures_generic)
        draw = getattr(module, name, None) or getattr(importlib.import_module("convstudies.figures_generic"), name)
        fig = draw(*data)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=130, bbox_inches="tight")
        plt.close(fig)


def verdict(study: str, table: Path, summary: Path, out: Path, examples: Path | None = None,
            runs: Path | None = None, scale: str = "embedded", phase: str = "confirmation",
            seeds_overridden: bool = False) -> dict:
    """Decide a study's claim from its tables and pre-registered thresholds; write the claims JSON
    (evidence, invariants, seeds, registration audit; see workflow/schemas/claims.schema.yaml)."""
    spec = load_study(study)
    study_dir = study_file(study).parent
    ex = load_examples(examples) if examples is not None and Path(examples).exists() else {}
    result = study_analysis(study).verdict(*read(table, summary), spec["thresholds"], ex)
    run_table = pd.read_csv(runs) if runs is not None and Path(runs).exists() else pd.DataFrame(
        columns=["git", "dirty"])
    seeds = spec["scales"][scale]["seeds"]
    table_df, summary_df = read(table, summary)
    used = sorted(int(s) for s in table_df["seed"].unique())
    claim = {"study": study, "claim": " ".join(spec["claim"].split()), "verdict": result["verdict"],
             "evidence": result["evidence"], "invariants": result.get("invariants", []),
             "counts": {"evidence": len(result["evidence"]), "invariants": len(result.get("invariants", []))},
             "thresholds": spec["thresholds"],
             "seeds": {"development": seeds["development"], "confirmation": seeds["confirmation"], "used": used,
                       "phase": phase, "overridden": seeds_overridden},
             "scale": scale,
             **audit(spec, study_dir, run_table, phase, seeds_overridden),
             "history": spec.get("history", []),
             "anchors": anchors(spec, table_df, summary_df, ex, scale, phase),
             **({"note": result["note"]} if result.get("note") else {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(claim, indent=1))
    return claim
