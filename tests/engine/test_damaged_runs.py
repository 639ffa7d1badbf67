"""A half-written run is not a finished run: the train job names it, moves it aside and trains it
again; the workflow notices it while planning; the tables step names the file instead of crashing."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from convstudies.cli import main
from convstudies.config import load_study
from convstudies.engine.train import is_complete, run_damage
from convstudies.tables import summary_damage

from conftest import snakemake_cmd


def job(tmp_path, *extra):
    return main(["train-entry", "--study", "translation", "--entry", "mlp", "--scale", "tiny", "--seeds", "0", "1",
                 "--runs-dir", str(tmp_path / "runs"), "--summary", str(tmp_path / "mlp.json"), *extra])


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def run_dirs(summary):
    """The run directories a job summary lists (seed 0, seed 1)."""
    return [Path(r["dir"]) for r in json.loads(summary.read_text())["runs"]]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One tiny job of two finished runs, trained once for the module (copy it before breaking it)."""
    wd = tmp_path_factory.mktemp("finished")
    assert job(wd) == 0
    return wd


@pytest.fixture
def copy(finished, tmp_path):
    """A copy of the finished job whose summary points at the copied run directories."""
    shutil.copytree(finished / "runs", tmp_path / "runs")
    text = (finished / "mlp.json").read_text().replace(json.dumps(str(finished))[1:-1], json.dumps(str(tmp_path))[1:-1])
    (tmp_path / "mlp.json").write_text(text)
    assert all(tmp_path in d.parents for d in run_dirs(tmp_path / "mlp.json"))
    return tmp_path


def test_a_truncated_metrics_json_is_named_moved_aside_and_trained_again(copy, capsys):
    damaged, kept = run_dirs(copy / "mlp.json")
    truncate(damaged / "metrics.json")
    broken = (damaged / "metrics.json").read_bytes()
    kept_stamp = (kept / "metrics.json").stat().st_mtime_ns
    assert not is_complete(damaged) and is_complete(kept)

    assert job(copy) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "damaged run" in x)
    assert line.startswith(f"[convstudies] translation/mlp/seed0: damaged run, {damaged / 'metrics.json'}: "
                           "not valid JSON")
    aside = list(damaged.parent.glob(f"{damaged.name}.damaged-*"))
    assert len(aside) == 1, "the damaged run must be moved aside, never deleted"
    assert line.endswith(f"; moved aside to {aside[0]}, training it again")
    assert (aside[0] / "metrics.json").read_bytes() == broken
    assert is_complete(damaged) and json.loads((damaged / "metrics.json").read_text())["status"] == "ok"
    assert "translation/mlp/seed1: finished earlier, kept" in out
    assert (kept / "metrics.json").stat().st_mtime_ns == kept_stamp
    assert [r["dir"] for r in json.loads((copy / "mlp.json").read_text())["runs"]] == [str(damaged), str(kept)]


def _npz_truncated(d):
    truncate(d / "per_example.npz", 0.6)


def _metrics_without_status(d):
    m = json.loads((d / "metrics.json").read_text())
    del m["status"]
    (d / "metrics.json").write_text(json.dumps(m))


DAMAGE = {  # what is done to a finished run -> the file its message names, and whether the cheap check sees it
    "metrics.json truncated": (lambda d: truncate(d / "metrics.json"), "metrics.json", True),
    "metrics.json without status": (_metrics_without_status, "metrics.json", True),
    "config.json truncated": (lambda d: truncate(d / "config.json"), "config.json", False),
    "provenance.json missing": (lambda d: (d / "provenance.json").unlink(), "provenance.json", True),
    "provenance.json truncated": (lambda d: truncate(d / "provenance.json"), "provenance.json", True),
    "model.pt empty": (lambda d: (d / "model.pt").write_bytes(b""), "model.pt", True),
    "model.pt truncated": (lambda d: truncate(d / "model.pt"), "model.pt", False),
    "model.pt not an archive": (lambda d: (d / "model.pt").write_bytes(b"\0" * 100), "model.pt", False),
    "per_example.npz truncated": (_npz_truncated, "per_example.npz", True),
    "per_example.npz missing": (lambda d: (d / "per_example.npz").unlink(), "per_example.npz", True),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_every_file_of_a_run_must_read(copy, damage):
    do, name, cheap = DAMAGE[damage]
    d = run_dirs(copy / "mlp.json")[0]
    assert run_damage(d) is None and summary_damage(copy / "mlp.json") == []
    do(d)
    problem = run_damage(d)
    assert problem and str(d / name) in problem
    assert not is_complete(d)
    found = summary_damage(copy / "mlp.json")  # what the workflow checks while it plans
    assert (len(found) == 1 and str(d / name) in found[0]) if cheap else found == []
    assert len(summary_damage(copy / "mlp.json", deep=True)) == 1


def test_a_run_listed_but_gone_and_an_unreadable_summary_are_damage(copy):
    shutil.rmtree(run_dirs(copy / "mlp.json")[1])
    assert "does not exist" in summary_damage(copy / "mlp.json")[0]
    truncate(copy / "mlp.json")
    assert "unreadable" in summary_damage(copy / "mlp.json")[0]


def tables_cmd(wd):
    return ["-m", "convstudies", "tables", "--study", "translation", "--summaries", str(wd / "mlp.json"),
            "--table", str(wd / "t.csv"), "--summary", str(wd / "s.csv"), "--examples", str(wd / "e.npz"),
            "--runs", str(wd / "r.csv")]


@pytest.mark.parametrize("name", ["metrics.json", "provenance.json", "per_example.npz"])
def test_the_tables_step_names_the_damaged_file_and_what_to_do(copy, name):
    d = run_dirs(copy / "mlp.json")[1]
    truncate(d / name)
    with pytest.raises(SystemExit) as e:
        main(tables_cmd(copy)[2:])
    msg = str(e.value)
    assert msg.startswith(f"error: tables of study translation: cannot read run file {d}/{name}: ")
    assert "The run is damaged: rerun the workflow;" in msg and "moves the damaged run aside" in msg
    assert msg.endswith(f"If this message comes back, delete the job summary {copy / 'mlp.json'} and rerun.")
    assert not list(copy.glob("*.csv")) and not (copy / "e.npz").exists(), "nothing is written from damaged runs"


def test_the_tables_step_fails_with_one_message_and_no_traceback(copy):
    ok = subprocess.run([sys.executable, *tables_cmd(copy)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    truncate(run_dirs(copy / "mlp.json")[0] / "provenance.json")
    r = subprocess.run([sys.executable, *tables_cmd(copy)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "provenance.json: not valid JSON" in r.stderr
    truncate(copy / "mlp.json")
    r = subprocess.run([sys.executable, *tables_cmd(copy)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"cannot read job summary {copy / 'mlp.json'}" in r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("train_jobs,job", [
    ("entry", "lenet5"), ("seed", f"lenet5.seed{load_study('lenet5')['scales']['tiny']['seeds']['confirmation'][0]}")])
def test_the_workflow_retrains_a_damaged_run_and_keeps_the_tables(tmp_path, train_jobs, job):
    """A truncated metrics.json after a finished workflow: the rerun notices it while planning and runs
    the train job again (of the entry, or of the run's seed), which moves the run aside and retrains
    it; the tables are made again; a third run has nothing to do."""
    tiny = ["--cores", "2", "--config", "scale=tiny", "studies=[lenet5]", f"train_jobs={train_jobs}"]
    first = subprocess.run(snakemake_cmd(tmp_path, *tiny), capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = tmp_path / "results" / "runs" / "lenet5" / f"{job}.json"
    run = tmp_path / json.loads(summary.read_text())["runs"][0]["dir"]
    table = tmp_path / "results" / "tables" / "lenet5.csv"
    before = table.stat().st_mtime_ns
    truncate(run / "metrics.json", 0.3)

    again = subprocess.run(snakemake_cmd(tmp_path, *tiny), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"damaged run listed in results/runs/lenet5/{job}.json: {run.relative_to(tmp_path)}/metrics.json" \
        in again.stderr
    log = (tmp_path / "results" / "logs" / "train" / "lenet5" / f"{job}.log").read_text()
    assert f"damaged run, {run.relative_to(tmp_path)}/metrics.json: not valid JSON" in log
    assert "training it again" in log
    assert len(list(run.parent.glob(f"{run.name}.damaged-*"))) == 1
    assert is_complete(run) and summary.exists()
    assert table.stat().st_mtime_ns > before  # the tables were made again, from the retrained run
    assert (tmp_path / "results" / "claims" / "lenet5.json").exists()
    record = (tmp_path / "results" / "runs" / "lenet5" / f"{job}.damaged").read_text().splitlines()
    assert len(record) == 1 and f"{run.relative_to(tmp_path)}/metrics.json: not valid JSON" in record[0]

    third = subprocess.run(snakemake_cmd(tmp_path, *tiny), capture_output=True, text=True, timeout=900)
    assert third.returncode == 0 and "Nothing to be done" in third.stdout + third.stderr, "retrained once only"
