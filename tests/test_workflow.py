"""The real Snakemake workflow at the tiny scale, in a temporary directory.

One test interrupts a run with SIGKILL once some runs have finished, reruns the same
command and checks that nothing finished was retrained or overwritten, then checks every
output (tables, figures, claim, report). The tiny scale trains in seconds, but each job
pays the torch import, so the module takes about a minute on 2 cores.
"""
import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from conftest import snakemake_cmd

pytestmark = pytest.mark.slow
TINY = ["--config", "scale=tiny", "studies=[translation]", "--cores", "2"]


def finished_runs(workdir):
    """metrics.json of complete run directories (a killed run may leave a <run>.partial directory)."""
    return sorted(p for p in (workdir / "results" / "runs").glob("*/*/*/metrics.json")
                  if not p.parent.name.endswith(".partial"))


@pytest.fixture(scope="module")
def interrupted_then_resumed(tmp_path_factory):
    wd = tmp_path_factory.mktemp("wf")
    proc = subprocess.Popen(snakemake_cmd(wd, *TINY), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 240
    while len(finished_runs(wd)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the workflow finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)  # like a lost node: no cleanup at all
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in finished_runs(wd)}
    assert before and not (wd / "results" / "REPORT.md").exists()
    resumed = subprocess.run(snakemake_cmd(wd, *TINY), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    return wd, before


def test_interrupted_runs_are_kept_and_only_missing_work_is_done(interrupted_then_resumed):
    wd, before = interrupted_then_resumed
    after = {p: p.stat().st_mtime_ns for p in finished_runs(wd)}
    assert all(after[p] == t for p, t in before.items()), "a finished run was retrained or overwritten"
    assert len(after) > len(before)
    logs = "".join(p.read_text() for p in (wd / "results" / "logs" / "train").rglob("*.log"))
    assert "finished earlier, kept" in logs
    assert not list((wd / "results" / "runs").rglob("*.partial"))


def test_table_claim_figures_and_report(interrupted_then_resumed):
    wd, _ = interrupted_then_resumed
    res = wd / "results"
    table = pd.read_csv(res / "tables" / "translation.csv")
    assert {"study", "point", "run", "seed", "condition", "metric", "value"} <= set(table.columns)
    assert set(table["seed"]) == {0, 1}
    assert {"mlp", "cnn_flatten", "cnn_gap"} <= set(table["point"])
    sweep = table[(table.condition == "shift") & (table.point == "mlp")]
    assert sorted(sweep["shift"].unique()) == [0, 2, 4, 6, 8] and sweep["value"].between(0, 1).all()
    summary = pd.read_csv(res / "tables" / "translation_summary.csv")
    assert {"mean", "ci_low", "ci_high", "n"} <= set(summary.columns)
    claim = json.loads((res / "claims" / "translation.json").read_text())
    assert claim["study"] == "translation" and claim["verdict"] in ("holds", "does not hold", "inconclusive")
    assert claim["thresholds"]["mlp_drop_min"] == 0.3
    assert all({"estimate", "ci_low", "ci_high", "threshold"} <= set(e) for e in claim["evidence"])
    for fig in ("accuracy_vs_shift", "consistency_vs_shift", "sample_efficiency"):
        png = res / "figures" / "translation" / f"{fig}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    report = (res / "REPORT.md").read_text()
    assert "## translation" in report and claim["verdict"] in report
    assert "figures/translation/accuracy_vs_shift.png" in report


def test_html_report_with_captions(interrupted_then_resumed):
    wd, _ = interrupted_then_resumed
    out = subprocess.run(snakemake_cmd(wd, *TINY, "--report", "results/report.html"), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    html = (wd / "results" / "report.html").read_text(errors="replace")
    assert "Test accuracy against the shift of the test digits" in html


@pytest.mark.parametrize("args,message", [
    (["studies=[translaton]"], "studies[0]: unknown study 'translaton'"),
    (["scale=huge"], "'huge' is not one of"),
])
def test_bad_config_stops_before_any_job(tmp_path, args, message):
    out = subprocess.run(snakemake_cmd(tmp_path, "--cores", "1", "--config", *args), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0
    assert message in out.stdout + out.stderr
    assert not (tmp_path / "results").exists()
