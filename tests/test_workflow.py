"""The real Snakemake workflow at the tiny scale, every study, in a temporary directory.

One session-wide run (``tiny_results``) is interrupted with SIGKILL once some runs have
finished and resumed with the same command; the tests check that nothing finished was
retrained, then every study's outputs (a matrix over the studies, like a catalog
workflow's CI over its test configs), and that the analysis steps and the planning import
no torch. The tiny scale trains in seconds, but each training job pays the torch import.
"""
import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from convstudies.config import expand_points, load_study, ordered_studies, validate
from convstudies.config import schema
from helpers.processes import VIOLATION, run_without_torch
from helpers.runs import run_file_hashes

from conftest import REPO, snakemake_cmd

pytestmark = pytest.mark.slow
STUDIES = ordered_studies()
TINY = ["--config", "scale=tiny", "--cores", "2"]
CLAIMS_SCHEMA = schema("claims")


def finished_runs(workdir):
    """metrics.json of complete run directories (a killed run may leave a <run>.partial directory)."""
    return sorted(p for p in (workdir / "results" / "runs").glob("*/*/*/metrics.json")
                  if not p.parent.name.endswith(".partial"))


@pytest.fixture(scope="session")
def tiny_results(tmp_path_factory):
    """The tiny workflow over every study, killed with SIGKILL mid-way, then resumed."""
    wd = tmp_path_factory.mktemp("wf")
    proc = subprocess.Popen(snakemake_cmd(wd, *TINY), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 300
    while len(finished_runs(wd)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the workflow finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)  # like a lost node: no cleanup at all
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in finished_runs(wd)}
    assert before and not (wd / "results" / "REPORT.md").exists()
    resumed = subprocess.run(snakemake_cmd(wd, *TINY), capture_output=True, text=True, timeout=1800)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    return wd, before


def test_interrupted_runs_are_kept_and_only_missing_work_is_done(tiny_results):
    wd, before = tiny_results
    after = {p: p.stat().st_mtime_ns for p in finished_runs(wd)}
    assert all(after[p] == t for p, t in before.items()), "a finished run was retrained or overwritten"
    assert len(after) > len(before)
    logs = "".join(p.read_text() for p in (wd / "results" / "logs" / "train").rglob("*.log"))
    assert "finished earlier, kept" in logs
    assert not list((wd / "results" / "runs").rglob("*.partial"))


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_gives_tables_a_claim_figures_and_a_report_section(tiny_results, study):
    res = tiny_results[0] / "results"
    spec = load_study(study)
    table = pd.read_csv(res / "tables" / f"{study}.csv")
    assert {"study", "point", "run", "seed", "condition", "metric", "value"} <= set(table.columns)
    assert set(table["seed"]) == set(spec["scales"]["tiny"]["seeds"]["confirmation"])
    summary = pd.read_csv(res / "tables" / f"{study}_summary.csv")
    assert {"mean", "ci_low", "ci_high", "n"} <= set(summary.columns)
    claim = json.loads((res / "claims" / f"{study}.json").read_text())
    validate(claim, CLAIMS_SCHEMA, f"claims/{study}.json")  # raises, naming the key, if it does not conform
    assert claim["study"] == study and claim["verdict"] in ("holds", "does not hold", "inconclusive")
    assert claim["thresholds"] == spec["thresholds"] and claim["evidence"]
    assert all(e["ci_low"] < e["ci_high"] for e in claim["evidence"]), "an evidence interval of zero width"
    assert claim["seeds"]["used"] == spec["scales"]["tiny"]["seeds"]["confirmation"]
    assert claim["exploratory"] == bool(claim["exploratory_reasons"])
    for fig in spec["figures"]:
        png = res / "figures" / study / f"{fig}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    report = (res / "REPORT.md").read_text()
    assert f"## {study}" in report and f"figures/{study}/{next(iter(spec['figures']))}.png" in report


def test_translation_table_holds_the_shift_sweep(tiny_results):
    table = pd.read_csv(tiny_results[0] / "results" / "tables" / "translation.csv")
    assert {"mlp", "cnn_flatten", "cnn_gap"} <= set(table["point"])
    sweep = table[(table.condition == "shift") & (table.point == "mlp")]
    assert sorted(sweep["shift"].unique()) == [0, 2, 4, 6, 8] and sweep["value"].between(0, 1).all()


@pytest.mark.parametrize("study", STUDIES)
def test_analysis_steps_import_no_torch_and_reproduce_the_workflow(tiny_results, study, tmp_path):
    """tables, figures and verdict as the rules run them, each in a fresh process that refuses torch."""
    wd = tiny_results[0]
    res = wd / "results"
    entries = dict.fromkeys(p["entry"] for p in expand_points(load_study(study), "tiny").values())
    summaries = [str(res / "runs" / study / f"{e}.json") for e in entries]  # in the rule's order
    table, summary = tmp_path / "t.csv", tmp_path / "s.csv"
    outs = [f"{f}={tmp_path / f}.png" for f in load_study(study)["figures"]]
    examples, runs = tmp_path / "e.npz", tmp_path / "r.csv"
    for args in (["tables", "--study", study, "--summaries", *summaries, "--table", str(table), "--summary", str(summary),
                  "--examples", str(examples), "--runs", str(runs)],
                 ["figures", "--study", study, "--table", str(table), "--summary", str(summary), "--out", *outs],
                 ["verdict", "--study", study, "--table", str(table), "--summary", str(summary),
                  "--examples", str(examples), "--runs", str(runs), "--scale", "tiny", "--out", str(tmp_path / "claim.json")]):
        out = run_without_torch(["-m", "convstudies", *args], cwd=wd)
        assert out.returncode == 0 and VIOLATION not in out.stderr, (args[0], out.stderr[-3000:])
    assert table.read_text() == (res / "tables" / f"{study}.csv").read_text()
    again, claim = (json.loads(p.read_text()) for p in (tmp_path / "claim.json", res / "claims" / f"{study}.json"))
    assert {**again, "registration": None} == {**claim, "registration": None}  # the audit reads the current HEAD
    assert all((tmp_path / f"{f}.png").stat().st_size > 5_000 for f in load_study(study)["figures"])


def test_report_step_imports_no_torch(tiny_results, tmp_path):
    res = tiny_results[0] / "results"
    claims = [str(res / "claims" / f"{s}.json") for s in STUDIES]
    out = run_without_torch(["-m", "convstudies", "report", "--claims", *claims, "--scale", "tiny",
                             "--out", str(res / "REPORT-again.md")])
    assert out.returncode == 0 and VIOLATION not in out.stderr, out.stderr[-3000:]
    assert (res / "REPORT-again.md").read_text() == (res / "REPORT.md").read_text()


def test_a_job_per_seed_trains_the_same_runs_as_a_job_per_entry(tiny_results, tmp_path):
    """train_jobs=seed on transfer, whose fine-tuning runs start from another entry's runs of the same
    seed, then back to a job per entry on the same results."""
    out = subprocess.run(snakemake_cmd(tmp_path, "--cores", "2", "--config", "scale=tiny", "studies=[transfer]",
                                       "train_jobs=seed"),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    res, ref = tmp_path / "results", tiny_results[0] / "results"
    seeds = load_study("transfer")["scales"]["tiny"]["seeds"]["confirmation"]
    entries = dict.fromkeys(p["entry"] for p in expand_points(load_study("transfer"), "tiny").values())
    assert sorted(p.name for p in (res / "runs" / "transfer").glob("*.json")) == \
        sorted(f"{e}.seed{s}.json" for e in entries for s in seeds)
    for e in entries:
        for s in seeds:
            job = json.loads((res / "runs" / "transfer" / f"{e}.seed{s}.json").read_text())
            assert job["runs"] and {r["seed"] for r in job["runs"]} == {s}
    assert run_file_hashes(res, "transfer") == run_file_hashes(ref, "transfer")  # bit for bit
    claim, ref_claim = (json.loads((r / "claims" / "transfer.json").read_text()) for r in (res, ref))
    assert (claim["verdict"], claim["evidence"]) == (ref_claim["verdict"], ref_claim["evidence"])
    n_runs = sum(f.endswith("/model.pt") for f in run_file_hashes(ref, "transfer"))
    assert f"Training: {n_runs} runs in {len(entries) * len(seeds)} jobs" in (res / "REPORT.md").read_text()

    # switching back to a job per entry trains nothing again: the entry jobs find every run finished
    back = subprocess.run(snakemake_cmd(tmp_path, "--cores", "2", "--config", "scale=tiny", "studies=[transfer]"),
                          capture_output=True, text=True, timeout=900)
    assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-3000:]
    for e in entries:
        log = (res / "logs" / "train" / "transfer" / f"{e}.log").read_text()
        assert "finished earlier, kept" in log and " ok in " not in log, log
    assert run_file_hashes(res, "transfer") == run_file_hashes(ref, "transfer")
    assert f"Training: {n_runs} runs in {len(entries)} jobs" in (res / "REPORT.md").read_text()


def test_planning_the_workflow_imports_no_torch(tmp_path):
    out = run_without_torch(["-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n",
                             "--cores", "2"])
    assert out.returncode == 0 and VIOLATION not in out.stderr, out.stdout[-2000:] + out.stderr[-2000:]
    assert "train" in out.stdout


def test_html_report_with_captions(tiny_results):
    wd, _ = tiny_results
    out = subprocess.run(snakemake_cmd(wd, *TINY, "--report", "results/report.html"), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    html = (wd / "results" / "report.html").read_text(errors="replace")
    assert "Test accuracy against the shift of the test digits" in html  # a translation figure's caption
    assert "c1_kernels" in html  # figures of every study, one job per study


@pytest.mark.parametrize("args,message", [
    (["studies=[translaton]"], "studies[0]: unknown study 'translaton'; did you mean 'translation'?"),
    (["studies=translaton"], "studies[0]: unknown study 'translaton'; did you mean 'translation'?"),
    (["scale=huge"], "scale: 'huge' is not one of"),
    (["sedes=[1]"], "'sedes' was unexpected) (did you mean 'seeds'?)"),
    (["train_jobs=run"], "train_jobs: 'run' is not one of ['entry', 'seed']"),
])
def test_bad_config_stops_before_any_job_with_one_readable_message(tmp_path, args, message):
    out = subprocess.run(snakemake_cmd(tmp_path, "--cores", "1", "--config", *args), capture_output=True,
                         text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert message in text and "nothing was run" in text
    assert "Failed validating" not in text and "Traceback" not in text and len(text.splitlines()) < 12
    assert not (tmp_path / "results").exists()


def test_a_report_of_one_study_keeps_every_other_studys_results_and_says_which_were_recomputed(tiny_results,
                                                                                             tmp_path):
    res = tiny_results[0] / "results"
    out = run_without_torch(["-m", "convstudies", "report", "--claims", str(res / "claims" / "lenet5.json"),
                             "--scale", "tiny", "--out", str(res / "REPORT-lenet5.md")])
    assert out.returncode == 0, out.stderr[-2000:]
    report = (res / "REPORT-lenet5.md").read_text()
    assert all(f"## {s}" in report for s in STUDIES)
    assert "| [lenet5](#lenet5) |" in report and report.count("| this run |") == 1
    assert report.count("| an earlier run") == len(STUDIES) - 1
