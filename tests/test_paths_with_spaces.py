"""Paths with spaces: the rules quote every path they hand to the shell (``{output:q}`` and so on).

One tiny study in a working directory whose name holds a space, into a results directory whose
name holds one too: the workflow and its report complete, everything lands in the results
directory, and nothing is made from a path split at its space ("my", "results", ...).
"""
import json
import os
import subprocess

import pytest
import yaml

from convstudies.engine.train import is_complete

from conftest import REPO, snakemake_cmd

pytestmark = pytest.mark.slow
CONFIG = ["--config", "scale=tiny", "studies=[lenet5]", "results_dir=my results"]
TOP = {"REPORT.md", "report.html", "claims", "data", "figures", "logs", "runs", "tables"}


def snakemake(wd, *args):
    out = subprocess.run(snakemake_cmd(wd, *CONFIG, *args), cwd=wd.parent, capture_output=True, text=True,
                         timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def test_a_study_runs_and_reports_with_spaces_in_the_working_and_results_directories(tmp_path):
    wd = tmp_path / "work dir"
    wd.mkdir()
    snakemake(wd, "--cores", "2")
    snakemake(wd, "--report", "my results/report.html")
    res = wd / "my results"

    figures = yaml.safe_load((REPO / "studies" / "lenet5" / "study.yaml").read_text())["figures"]
    expected = ["REPORT.md", "report.html", "claims/lenet5.json", "data/mnist5k.pt", "runs/lenet5/lenet5.json",
                *(f"tables/lenet5{s}" for s in (".csv", "_summary.csv", "_examples.npz", "_runs.csv")),
                *(f"figures/lenet5/{f}.png" for f in figures)]
    for f in expected:
        assert (res / f).is_file() and (res / f).stat().st_size > 0, f"{f} missing in {res}"
    for f in [*(f"logs/{s}/lenet5.log" for s in ("tables", "figures", "verdict")), "logs/train/lenet5/lenet5.log"]:
        assert (res / f).is_file(), f"{f} missing in {res}"
    runs = json.loads((res / "runs" / "lenet5" / "lenet5.json").read_text())["runs"]
    assert runs and all(r["dir"].startswith("my results/runs/lenet5/") and is_complete(wd / r["dir"]) for r in runs)
    assert "Traceback" not in "".join(p.read_text() for p in (res / "logs").rglob("*.log"))

    # nothing outside the results directory, nothing from a path split at its space
    assert sorted(os.listdir(tmp_path)) == ["work dir"]
    assert sorted(os.listdir(wd)) == [".snakemake", "my results"]
    assert {p for p in os.listdir(res) if not p.startswith("REPORT.")} <= TOP
    names = {part for p in res.rglob("*") for part in p.relative_to(res).parts}
    assert not names & {"my", "results", "results'", "'my"} and not any(n[:1] in "'\"" for n in names)
    assert not (REPO / "my").exists() and not (REPO / "my results").exists()

    assert "Nothing to be done" in snakemake(wd, "--cores", "2")  # what was made is found again as made
