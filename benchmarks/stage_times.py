"""Where a workflow run's wall time went: stages and studies, read from Snakemake's own log.

    time snakemake --cores 2                              # from an empty results directory
    python benchmarks/stage_times.py .snakemake/log/<newest>.snakemake.log

Each job's start and end come from the log's timestamps (1 s resolution). Stages: data
(prepare_data), training (train), analysis (tables, figures, verdict), report (report_markdown).
Per stage it prints the jobs, their summed job seconds and the stage's span (first start to
last end; stages overlap when one study's analysis runs beside another's training); per study,
the training job seconds. The HTML report (`snakemake --report`) is a separate command: time it
apart. Install time is not in the log either (time `pip install -e .` in a fresh environment).
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

STAGES = {"prepare_data": "data", "train": "training", "tables": "analysis", "figures": "analysis",
          "verdict": "analysis", "report_markdown": "report"}
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
RULE = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
OUTPUT = re.compile(r"^\s+output: (.*)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def parse(lines) -> list[dict]:
    """The jobs of a Snakemake log: rule, start, end (datetimes) and first output path."""
    now, pending, jobs = None, None, {}
    for line in lines:
        line = line.rstrip("\n")
        if m := STAMP.match(line):
            now = datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
        elif m := RULE.match(line):
            pending = {"rule": m.group(1), "start": now, "end": None, "output": ""}
        elif pending is not None and (m := OUTPUT.match(line)):
            pending["output"] = m.group(1).split(",")[0].strip()
        elif pending is not None and (m := JOBID.match(line)):
            jobs[int(m.group(1))] = pending
            pending = None
        elif (m := FINISHED.match(line)) and int(m.group(1)) in jobs:
            jobs[int(m.group(1))]["end"] = now
    return [j for j in jobs.values() if j["end"] is not None]


def study_of(output: str) -> str:
    """The study a training job belongs to: ``.../runs/<study>/<entry>.json`` (or ``<entry>.seed<N>.json``)."""
    parts = Path(output).parts
    return parts[parts.index("runs") + 1] if "runs" in parts[:-1] else "?"


def summarise(jobs: list[dict]) -> dict:
    stages: dict[str, dict] = {}
    studies: dict[str, float] = defaultdict(float)
    for j in jobs:
        stage = STAGES.get(j["rule"])
        if stage is None:
            continue
        seconds = (j["end"] - j["start"]).total_seconds()
        s = stages.setdefault(stage, {"jobs": 0, "job_seconds": 0.0, "first": j["start"], "last": j["end"]})
        s["jobs"] += 1
        s["job_seconds"] += seconds
        s["first"], s["last"] = min(s["first"], j["start"]), max(s["last"], j["end"])
        if stage == "training":
            studies[study_of(j["output"])] += seconds
    starts, ends = [j["start"] for j in jobs], [j["end"] for j in jobs]
    wall = (max(ends) - min(starts)).total_seconds() if jobs else 0.0
    return {"wall_seconds": wall, "stages": stages, "training_by_study": dict(studies)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log", type=Path, help="a .snakemake/log/*.snakemake.log file (or a saved console log)")
    a = p.parse_args()
    r = summarise(parse(a.log.read_text().splitlines()))
    print(f"first job start to last job end: {r['wall_seconds']:.0f} s")
    print("| stage | jobs | job seconds (sum) | span (first start to last end) |\n|---|---|---|---|")
    for stage in ("data", "training", "analysis", "report"):
        if stage in r["stages"]:
            s = r["stages"][stage]
            span = (s["last"] - s["first"]).total_seconds()
            print(f"| {stage} | {s['jobs']} | {s['job_seconds']:.0f} | {span:.0f} |")
    print("| study | training job seconds |\n|---|---|")
    for study, seconds in sorted(r["training_by_study"].items(), key=lambda kv: -kv[1]):
        print(f"| {study} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
