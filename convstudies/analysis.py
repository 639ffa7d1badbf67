"""Aggregation, figures, verdicts and the Markdown report; called by the workflow's rules.

    python -m convstudies.analysis tables  --study S --summaries a.json ... --table T.csv --summary S.csv
    python -m convstudies.analysis figure  --study S --figure NAME --table T.csv --summary S.csv --out F.png
    python -m convstudies.analysis verdict --study S --table T.csv --summary S.csv --out claims/S.json
    python -m convstudies.analysis report  --claims a.json ... --out REPORT.md
"""
from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import pandas as pd

from .config import load_study
from .stats import collect, summarize


def study_module(study: str):
    return importlib.import_module(f"convstudies.studies.{study}")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def tables(study: str, summaries: list[Path], table_out: Path, summary_out: Path) -> None:
    table = collect(summaries)
    table = getattr(study_module(study), "derive", lambda t: t)(table)
    write_csv(table, table_out)
    write_csv(summarize(table), summary_out)


def read(table: Path, summary: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(table), pd.read_csv(summary)


def figure(study: str, name: str, table: Path, summary: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid")
    fn = getattr(study_module(study), name, None)
    if fn is None:
        raise SystemExit(f"study {study!r} lists figure {name!r} but studies/{study}.py has no function {name}()")
    fig = fn(*read(table, summary))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)


def verdict(study: str, table: Path, summary: Path, out: Path) -> dict:
    spec = load_study(study)
    result = study_module(study).verdict(*read(table, summary), spec["thresholds"])
    claim = {"study": study, "claim": spec["claim"], "verdict": result["verdict"],
             "evidence": result["evidence"], "thresholds": spec["thresholds"],
             **({"note": result["note"]} if result.get("note") else {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(claim, indent=1))
    return claim


def _fmt_evidence(ev: dict) -> str:
    return (f"| {ev['name']} | {ev['estimate']:.3f} [{ev['ci_low']:.3f}, {ev['ci_high']:.3f}] | "
            f"{ev['direction']} {ev['threshold']:g} | {ev['outcome']} |")


def anchor_table(spec: dict, summary: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Our number beside the paper's for each anchor of a study (percent; difference = ours - paper)."""
    rows = []
    for a in spec.get("anchors", []):
        point = a["point"].get(scale) if isinstance(a["point"], dict) else a["point"]
        if point is None:  # no comparable point at this scale (e.g. MR is full scale only)
            continue
        hit = summary[(summary["point"] == point) & (summary["condition"] == a.get("condition", "test"))
                      & (summary["metric"] == a["metric"])]
        ours = lo = hi = float("nan")
        if len(hit) == 1:
            m, l_, h_ = (float(hit.iloc[0][c]) for c in ("mean", "ci_low", "ci_high"))
            if a.get("as", "accuracy") == "error":
                m, l_, h_ = 1 - m, 1 - h_, 1 - l_
            ours, lo, hi = 100 * m, 100 * l_, 100 * h_
        rows.append({"": a["name"], f"ours ({scale}) %": ours, "95 % CI": f"[{lo:.2f}, {hi:.2f}]",
                     "paper %": a["paper"], "difference": ours - a["paper"], "source": a["source"]})
    return pd.DataFrame(rows)


def training_line(runs_dir: Path) -> str:
    """How many runs a study trained and the wall time of its training jobs."""
    jobs = [json.loads(p.read_text()) for p in sorted(runs_dir.glob("*.json"))]
    n_runs = sum(len(j["runs"]) for j in jobs)
    seconds = sum(j.get("job_seconds", 0.0) for j in jobs)
    return f"Training: {n_runs} runs in {len(jobs)} jobs, {seconds:.0f} s of training-job wall time."


def report(claims: list[Path], out: Path, scale: str) -> None:
    """REPORT.md: per study the claim, the verdict with its evidence, the key table and the figures."""
    root = out.parent
    lines = ["# convstudies report", "", f"Scale: **{scale}**. Each verdict compares pre-registered thresholds "
             "(in the study file) with 95 % t-intervals over seeds.", "",
             "| study | verdict |", "|---|---|"]
    claims_data = [json.loads(Path(c).read_text()) for c in claims]
    lines += [f"| [{c['study']}](#{c['study']}) | {c['verdict']} |" for c in claims_data]
    for c in claims_data:
        sid = c["study"]
        spec = load_study(sid)
        summary = pd.read_csv(root / "tables" / f"{sid}_summary.csv")
        key = study_module(sid).key_table(summary)
        lines += ["", f"## {sid}", "", f"> {c['claim']}", "", spec.get("description", "").strip(), "",
                  f"**Verdict: {c['verdict']}**", "", training_line(root / "runs" / sid), "",
                  "| check | estimate [95 % CI] | threshold | outcome |", "|---|---|---|---|",
                  *[_fmt_evidence(e) for e in c["evidence"]], ""]
        if c.get("note"):
            lines += [c["note"], ""]
        lines += [key.to_markdown(index=False, floatfmt=".3f"), ""]
        anchors = anchor_table(spec, summary, scale)
        if not anchors.empty:
            note = "" if scale == "full" else (f" At the {scale} scale these are not like-for-like: the papers "
                                                "trained on the full datasets; run `--configfile config/full.yaml`.")
            lines += ["Published numbers beside ours." + note, "",
                      anchors.to_markdown(index=False, floatfmt=".2f"), ""]
        for fig, caption in spec.get("figures", {}).items():
            lines += [f"![{fig}](figures/{sid}/{fig}.png)", "", f"*{caption.strip()}*", ""]
    out.write_text("\n".join(lines) + "\n")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="convstudies analysis steps")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tables")
    t.add_argument("--study", required=True)
    t.add_argument("--summaries", nargs="+", type=Path, required=True)
    t.add_argument("--table", type=Path, required=True)
    t.add_argument("--summary", type=Path, required=True)
    f = sub.add_parser("figure")
    v = sub.add_parser("verdict")
    for q in (f, v):
        q.add_argument("--study", required=True)
        q.add_argument("--table", type=Path, required=True)
        q.add_argument("--summary", type=Path, required=True)
        q.add_argument("--out", type=Path, required=True)
    f.add_argument("--figure", required=True)
    r = sub.add_parser("report")
    r.add_argument("--claims", nargs="+", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--scale", default="embedded")
    a = p.parse_args(argv)
    if a.cmd == "tables":
        tables(a.study, a.summaries, a.table, a.summary)
    elif a.cmd == "figure":
        figure(a.study, a.figure, a.table, a.summary, a.out)
    elif a.cmd == "verdict":
        print(json.dumps(verdict(a.study, a.table, a.summary, a.out), indent=1))
    else:
        report(a.claims, a.out, a.scale)


if __name__ == "__main__":
    main()
