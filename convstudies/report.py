"""The Markdown report: per study the claim, the verdict with its evidence, the key table,
the paper anchors and the figures. Reads claims, summary tables and study files; no torch."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .anchors import anchor_table
from .config import load_study
from .steps import study_analysis


def _fmt_evidence(ev: dict) -> str:
    return (f"| {ev['name']} | {ev['estimate']:.3f} [{ev['ci_low']:.3f}, {ev['ci_high']:.3f}] | "
            f"{ev['direction']} {ev['threshold']:g} | {ev['outcome']} |")


def training_line(root: Path, study: str) -> str:
    """How many runs a study's tables read, in how many training jobs, and those jobs' wall time
    (``tables/<study>_runs.csv`` names each run's job summary in ``runs/<study>/``)."""
    runs = pd.read_csv(root / "tables" / f"{study}_runs.csv")
    if "job" not in runs:  # tables written before the column existed
        return f"Training: {len(runs)} runs."
    jobs = [json.loads((root / "runs" / study / j).read_text()) for j in runs["job"].unique()]
    seconds = sum(j.get("job_seconds", 0.0) for j in jobs)
    return f"Training: {len(runs)} runs in {len(jobs)} jobs, {seconds:.0f} s of training-job wall time."


def every_claim(planned: list[Path], claims_dir: Path) -> list[dict]:
    """The claims of this run and every other study's claims already on disk, in the lecture's order.

    Each gets ``_computed``: "this run", "an earlier run", or "an earlier run; stale" when its
    study file or verdict code changed since (its registration hash no longer matches).
    """
    from .config import ConfigError, ordered_studies, study_file
    from .registration import study_hash

    mine = {Path(p).resolve() for p in planned}
    found = {Path(p).resolve() for p in planned} | {p.resolve() for p in Path(claims_dir).glob("*.json")}
    out = []
    for path in found:
        c = json.loads(path.read_text())
        if path in mine:
            c["_computed"] = "this run"
        else:
            try:
                current = study_hash(load_study(c["study"]), study_file(c["study"]).parent)
            except ConfigError:
                current = None
            stale = current != c.get("registration", {}).get("hash")
            c["_computed"] = "an earlier run" + ("; stale: the study changed since" if stale else "")
        out.append(c)
    order = {s: i for i, s in enumerate(ordered_studies())}
    return sorted(out, key=lambda c: (order.get(c["study"], len(order)), c["study"]))


def status(c: dict) -> str:
    return "exploratory" if c.get("exploratory", True) else "confirmatory"


def _checks_table(checks: list[dict]) -> list[str]:
    return ["| check | estimate [95 % CI] | threshold | outcome |", "|---|---|---|---|",
            *[_fmt_evidence(e) for e in checks]]


def _history_item(h: dict) -> str:
    def flat(s) -> str:
        return " ".join(str(s).split()).rstrip(".")

    prompted = f" Prompted by: {flat(h['prompted_by'])}." if h.get("prompted_by") else ""
    commit = f" ({h['commit']})" if h.get("commit") else ""
    return f"- {h['date']}{commit}: {flat(h['change'])}. Why: {flat(h['why'])}.{prompted}"


def _protocol_lines(c: dict) -> list[str]:
    """Seeds, registration and why a claim is exploratory, as the claims JSON records them."""
    seeds, reg = c["seeds"], c["registration"]
    used = ", ".join(map(str, seeds["used"]))
    lines = [f"Seeds used: {used} ({seeds['phase']} seeds{'; overridden on the command line' if seeds['overridden'] else ''}); "
             f"development seeds: {', '.join(map(str, seeds['development']))}, confirmation seeds: "
             f"{', '.join(map(str, seeds['confirmation']))}.", ""]
    if reg["registered_hash"]:
        same = "unchanged since" if reg["matches"] else "**changed after**"
        lines += [f"Registration: `{reg['registered_hash'][:16]}` of {reg['registered_on']}; the study is {same} "
                  f"its registration (now `{reg['hash'][:16]}`).", ""]
    else:
        lines += ["Registration: none (`convstudies register` writes one).", ""]
    if c["exploratory_reasons"]:
        lines += ["**Exploratory**, because: " + "; ".join(c["exploratory_reasons"]) + ".", ""]
    else:
        lines += ["**Confirmatory**: registered before its confirmation runs, unchanged since, no rework.", ""]
    if c.get("history"):
        lines += ["Reworks after results were seen:", "", *[_history_item(h) for h in c["history"]], ""]
    return lines


def front_page_path(out: Path) -> Path:
    """Where :func:`report` writes the verdict table of the HTML report's front page: beside the
    Markdown report (``REPORT.md`` -> ``REPORT.verdicts.rst``)."""
    out = Path(out)
    return out.with_name(f"{out.stem}.verdicts.rst")


def verdict_table_rst(claims_data: list[dict]) -> str:
    """REPORT.md's verdict table as reStructuredText, for the front page of ``snakemake --report``
    (``workflow/report/workflow.rst`` includes it). A study this run computed links to its
    category of the HTML report (Snakemake defines a link target named after each category);
    a study whose claims come from an earlier run has no category there and is not linked."""
    def study(c: dict) -> str:
        return f"`{c['study']}`_" if c["_computed"] == "this run" else f"``{c['study']}``"

    rows = [["study", "verdict", "evidence", "invariants", "status", "computed"]]
    rows += [[study(c), c["verdict"], str(c["counts"]["evidence"]), str(c["counts"]["invariants"]), status(c),
              c["_computed"]] for c in claims_data]
    lines = [".. list-table:: Verdicts", "   :header-rows: 1", "   :class: verdicts", ""]
    for first, *rest in rows:
        lines += [f"   * - {first}", *[f"     - {v}" for v in rest]]
    return "\n".join(lines) + "\n"


def report(claims: list[Path], out: Path, scale: str) -> None:
    """REPORT.md: per study the claim, the verdict with its evidence and invariants, how it was
    registered, the key table, the anchors and the figures. Beside it (:func:`front_page_path`)
    the verdict table in reStructuredText for the front page of the HTML report."""
    out = Path(out)
    root = out.parent
    claims_data = every_claim(claims, root / "claims")
    lines = ["# convstudies report", "", f"Scale: **{scale}**. Each verdict compares pre-registered thresholds "
             "(in the study file) with 95 % intervals that count seed variation and, for test-set numbers, "
             "test-set sampling (paired across arms on the same test examples). Only evidence (checks that "
             "depend on training) decides; invariants (exact properties) are reported beside it. A study is "
             "confirmatory only if it was registered before its confirmation runs and not reworked after "
             "results were seen; otherwise exploratory.", "",
             "| study | verdict | evidence | invariants | status | computed |", "|---|---|---|---|---|---|"]
    lines += [f"| [{c['study']}](#{c['study']}) | {c['verdict']} | {c['counts']['evidence']} | "
              f"{c['counts']['invariants']} | {status(c)} | {c['_computed']} |" for c in claims_data]
    for c in claims_data:
        sid = c["study"]
        spec = load_study(sid)
        summary = pd.read_csv(root / "tables" / f"{sid}_summary.csv")
        key = study_analysis(sid).key_table(summary)
        lines += ["", f"## {sid}", "", f"> {c['claim']}", "", " ".join(spec.get("description", "").split()), "",
                  f"**Verdict: {c['verdict']}** ({status(c)}; {c['_computed']})", "",
                  training_line(root, sid), "",
                  f"Evidence ({c['counts']['evidence']}):", "", *_checks_table(c["evidence"]), ""]
        if c["invariants"]:
            lines += [f"Invariants ({c['counts']['invariants']}; exact properties, not evidence):", "",
                      *_checks_table(c["invariants"]), ""]
        lines += _protocol_lines(c)
        if c.get("note"):
            lines += [c["note"], ""]
        lines += [key.to_markdown(index=False, floatfmt=".3f"), ""]
        anchors = anchor_table(c.get("anchors", []))
        if not anchors.empty:
            lines += ["Published numbers beside ours (percent; 95 % interval over seeds and test examples). "
                      "`comparable` is derived from the runs' resolved configuration against what each paper's "
                      "protocol requires; the full-scale protocols are in `config/full.yaml`.", "",
                      anchors.to_markdown(index=False, floatfmt=".2f"), ""]
        for fig, caption in spec.get("figures", {}).items():
            lines += [f"![{fig}](figures/{sid}/{fig}.png)", "", f"*{' '.join(caption.split())}*", ""]
    out.write_text("\n".join(lines) + "\n")
    front_page_path(out).write_text(verdict_table_rst(claims_data))
