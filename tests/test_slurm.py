"""The workflow on a real SLURM cluster, through workflow/profiles/slurm.

A session fixture starts a single-node cluster on this machine (munged, slurmctld and
slurmd from Debian's slurm-wlm packages; no accounting database, so job states come from
squeue; see tests/helpers/slurm_cluster.py) with its config in a temporary directory, and stops
it at the end. Without the binaries, or where the daemons cannot start (not root, no
mount namespaces), every test here is skipped with the reason. Install them with
.ci/install_slurm.sh.

The tests run the tiny scale of one study (translation) so that they stay in minutes on
2 cores: every SLURM job starts two Snakemake processes and pays the torch import, and
squeue is polled every few seconds. The profile itself is used as users use it; only the
polling intervals are shortened for seconds-long jobs. The local reference run goes on
while the workflow runs on SLURM (which mostly waits), and the failure test starts from a
copy of that SLURM run with the mlp entry's results removed, so no work is done twice.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake_cmd
from helpers.runs import run_file_hashes
from helpers.slurm_cluster import ClusterUnavailable, SlurmCluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

PROFILE = REPO / "workflow" / "profiles" / "slurm"
CONFIG = ["scale=tiny", "studies=[translation]"]
FAIL_RUN = "translation/mlp/seed1000"  # the tiny scale's first confirmation seed
# The profile polls squeue as a real cluster wants it (first check after 40 s); test jobs
# take seconds. (The test cluster keeps finished jobs in squeue for MinJobAge=2 h >= 3 x 2 s.)
FAST_POLL = ["--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2"]
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
TIMINGS: dict[str, float] = {}


def run_workflow(workdir: Path, name: str, *args: str, env=None, timeout=900):
    """Snakemake on ``workdir``; its output is kept in ``workdir/snakemake-<name>.log``."""
    t0 = time.perf_counter()
    proc = subprocess.run(snakemake_cmd(workdir, *args), capture_output=True, text=True, env=env,
                          timeout=timeout)
    (workdir / f"snakemake-{name}.log").write_text(proc.stdout + proc.stderr)
    return proc, time.perf_counter() - t0


def on_slurm(cluster: SlurmCluster, workdir: Path, name: str, *config: str):
    return run_workflow(workdir, name, "--workflow-profile", str(PROFILE), *FAST_POLL,
                        "--config", *CONFIG, *config, env=cluster.env())


def submissions(proc: subprocess.CompletedProcess) -> list[dict]:
    """Every sbatch the executor reported: Snakemake job id, SLURM job id, rule, wildcards, log."""
    out = []
    for sm_id, slurm_id, log in SUBMITTED.findall(proc.stdout + proc.stderr):
        parts = Path(log).parts
        i = next(k for k, p in enumerate(parts) if p.startswith("rule_"))
        out.append({"job": sm_id, "slurm_id": slurm_id, "rule": parts[i][5:],
                    "wildcards": parts[i + 1] if i + 2 < len(parts) else "", "log": Path(log)})
    return out


def complete_runs(workdir: Path) -> dict[str, dict]:
    """Finished run directories: provenance SLURM job id and metrics.json mtime."""
    runs = {}
    for metrics in sorted((workdir / "results" / "runs").glob("*/*/*/metrics.json")):
        prov = json.loads((metrics.parent / "provenance.json").read_text())
        runs[str(metrics.parent.relative_to(workdir))] = {
            "slurm_job_id": prov["hardware"].get("slurm_job_id"), "mtime_ns": metrics.stat().st_mtime_ns}
    return runs


def accuracy_rows(workdir: Path) -> pd.DataFrame:
    table = pd.read_csv(workdir / "results" / "tables" / "translation.csv")
    rows = table[table["metric"] == "accuracy"]
    return rows.sort_values(list(rows.columns)).reset_index(drop=True)


def assert_same_results(workdir: Path, reference: Path) -> None:
    pd.testing.assert_frame_equal(accuracy_rows(workdir), accuracy_rows(reference), check_exact=True)
    claim, ref = (json.loads((w / "results" / "claims" / "translation.json").read_text())
                  for w in (workdir, reference))
    assert claim["verdict"] == ref["verdict"]
    assert [(e["name"], e["outcome"]) for e in claim["evidence"]] == [(e["name"], e["outcome"]) for e in ref["evidence"]]
    assert [e["estimate"] for e in claim["evidence"]] == pytest.approx([e["estimate"] for e in ref["evidence"]],
                                                                       rel=1e-9, abs=1e-12)
    assert (workdir / "results" / "REPORT.md").is_file()


def tail(proc: subprocess.CompletedProcess, n: int = 4000) -> str:
    return (proc.stdout + proc.stderr)[-n:]


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except ClusterUnavailable as e:
        pytest.skip(f"no SLURM test cluster: {e}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def local_started(tmp_path_factory):
    """Starts the same workflow locally (the default profile): what SLURM must reproduce."""
    wd = tmp_path_factory.mktemp("local")
    log = open(wd / "snakemake-local.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(snakemake_cmd(wd, "--config", *CONFIG), stdout=log, stderr=subprocess.STDOUT)
    yield wd, proc, time.time()
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def local_reference(local_started):
    wd, proc, t0 = local_started
    rc = proc.wait(timeout=900)
    out = (wd / "snakemake-local.log").read_text()
    TIMINGS.setdefault("local", (wd / "snakemake-local.log").stat().st_mtime - t0)  # its last line
    assert rc == 0, out[-4000:]
    steps = re.findall(r"(\d+) of (\d+) steps \(100%\) done", out)
    return wd, int(steps[-1][1])


@pytest.fixture(scope="session")
def slurm_run(slurm_cluster, local_started, tmp_path_factory):
    """The workflow through the SLURM profile (the local reference runs meanwhile)."""
    wd = tmp_path_factory.mktemp("on_slurm")
    proc, seconds = on_slurm(slurm_cluster, wd, "slurm")
    TIMINGS["slurm"] = seconds
    return wd, proc


def test_profile_documents_every_entry_and_uses_squeue():
    text = (PROFILE / "config.yaml").read_text()
    profile = yaml.safe_load(text)
    assert profile["executor"] == "slurm" and profile["slurm-status-command"] == "squeue"
    assert isinstance(profile["jobs"], int) and profile["retries"] >= 1 and profile["keep-going"] is True
    assert {"mem_mb", "runtime"} <= set(profile["default-resources"])
    assert "slurm_partition" in text and "slurm_account" in text  # where users set them, once
    entries = [ln for ln in text.splitlines() if re.match(r"^\s*[a-z][\w-]*:\s*\S", ln)]
    undocumented = [ln for ln in entries if "#" not in ln]
    assert not undocumented, f"profile entries without a comment: {undocumented}"


def test_workflow_runs_on_slurm_like_locally(slurm_cluster, slurm_run, local_reference):
    workdir, proc = slurm_run
    reference, n_steps = local_reference
    assert proc.returncode == 0, tail(proc)

    # every job but the local target rule went through sbatch, once, and completed there
    subs = submissions(proc)
    assert len(subs) == n_steps - 1, tail(proc)
    assert {s["rule"] for s in subs} == {"prepare_data", "train", "tables", "figures", "verdict", "report_markdown"}
    states = {j["id"]: j for j in slurm_cluster.jobs()}
    for s in subs:
        assert states[s["slurm_id"]]["state"] == "COMPLETED", states.get(s["slurm_id"])
        assert states[s["slurm_id"]]["name"].startswith("convstudies_")  # the profile's job name prefix
        assert s["log"].is_file() and s["log"].is_relative_to(workdir / "results" / "logs" / "slurm")
    print(f"\n[slurm] {len(subs)} SLURM jobs: {', '.join(s['slurm_id'] for s in subs)}; workflow "
          f"{TIMINGS['slurm']:.0f} s on SLURM, {TIMINGS['local']:.0f} s locally (both at once)")

    # the rules' resources (and the profile's defaults) reached sbatch
    train = next(s for s in subs if s["rule"] == "train")
    info = slurm_cluster.job_info(train["slurm_id"])
    assert info["TimeLimit"] == "01:00:00" and info["MinMemoryNode"] == "3000M" and info["NumCPUs"] == "1", info
    tables = next(s for s in subs if s["rule"] == "tables")
    info = slurm_cluster.job_info(tables["slurm_id"])
    assert info["TimeLimit"] == "00:30:00" and info["MinMemoryNode"] == "2000M", info

    # each run was trained inside the SLURM job of its grid entry
    train_ids = {s["wildcards"].split("_", 1)[1]: s["slurm_id"] for s in subs if s["rule"] == "train"}
    for entry, slurm_id in train_ids.items():
        summary = json.loads((workdir / "results" / "runs" / "translation" / f"{entry}.json").read_text())
        for r in summary["runs"]:
            prov = json.loads((workdir / r["dir"] / "provenance.json").read_text())
            assert prov["hardware"].get("slurm_job_id") == slurm_id, (entry, r["dir"])

    assert_same_results(workdir, reference)


def train_log(workdir: Path, sub: dict) -> str:
    study, entry = sub["wildcards"].split("_", 1)
    return (workdir / "results" / "logs" / "train" / study / f"{entry}.log").read_text()


def assert_trained_nothing(workdir: Path, subs: list[dict], but: list[dict]) -> None:
    """Training jobs that ran again only because their params changed (fail_runs is a param
    of every train job) found all their runs finished and kept them."""
    for s in subs:
        if s["rule"] == "train" and s not in but:
            log = train_log(workdir, s)
            assert "finished earlier, kept" in log and " ok in " not in log, log


def test_failed_job_is_retried_then_rerun_trains_only_the_missing_run(slurm_cluster, slurm_run, local_reference,
                                                                      tmp_path):
    reference, _ = local_reference
    retries = yaml.safe_load((PROFILE / "config.yaml").read_text())["retries"]
    # start from the finished SLURM run without the mlp entry's runs and what depends on them
    shutil.copytree(slurm_run[0], tmp_path, dirs_exist_ok=True, symlinks=True)
    res, runs_dir = tmp_path / "results", tmp_path / "results" / "runs" / "translation"
    for p in ("runs/translation/mlp", "runs/translation/mlp.json", "tables", "figures", "claims", "REPORT.md"):
        shutil.rmtree(res / p) if (res / p).is_dir() else (res / p).unlink()
    other_entries = sorted(p.stem for p in runs_dir.glob("*.json"))
    start = complete_runs(tmp_path)  # the other entries' runs, trained by the first SLURM run
    assert len(other_entries) >= 3 and start

    # 1. one run of the mlp entry raises: its job fails every attempt, the rest goes on
    failed, seconds = on_slurm(slurm_cluster, tmp_path, "fail", f"fail_runs=[{FAIL_RUN}]")
    TIMINGS["slurm_with_failure"] = seconds
    assert failed.returncode != 0, tail(failed)
    assert "Error in rule train" in failed.stdout + failed.stderr
    subs = submissions(failed)
    attempts = [s for s in subs if s["rule"] == "train" and s["wildcards"] == "translation_mlp"]
    assert len(attempts) == retries + 1, tail(failed)  # a new SLURM job for every attempt
    assert len({s["job"] for s in attempts}) == 1 and len({s["slurm_id"] for s in attempts}) == retries + 1
    states = {j["id"]: j["state"] for j in slurm_cluster.jobs()}
    assert [states[s["slurm_id"]] for s in attempts] == ["FAILED"] * (retries + 1)
    assert all(s["log"].is_file() for s in attempts)  # the SLURM log of a failed job is kept
    assert f"injected failure for {FAIL_RUN}" in train_log(tmp_path, attempts[0])
    # keep-going: every other job finished; what needs the mlp entry did not run
    assert all(states[s["slurm_id"]] == "COMPLETED" for s in subs if s not in attempts)
    assert_trained_nothing(tmp_path, subs, but=attempts)
    assert all((runs_dir / f"{e}.json").is_file() for e in other_entries)
    assert not (runs_dir / "mlp.json").exists() and not (res / "tables" / "translation.csv").exists()
    after_failure = complete_runs(tmp_path)
    assert {k: after_failure[k] for k in start} == start, "a finished run was retrained or overwritten"
    mlp_done = {k: v for k, v in after_failure.items() if k not in start}
    assert len(mlp_done) == 1 and "/mlp/seed1001-" in next(iter(mlp_done))  # the failing job kept seed 1001 ...
    assert next(iter(mlp_done.values()))["slurm_job_id"] == attempts[0]["slurm_id"]  # ... trained once

    # 2. without the fault, the rerun trains only the missing run and finishes the workflow
    fixed, seconds = on_slurm(slurm_cluster, tmp_path, "rerun")
    TIMINGS["slurm_rerun"] = seconds
    assert fixed.returncode == 0, tail(fixed)
    resubs = submissions(fixed)
    mlp_job = [s for s in resubs if s["rule"] == "train" and s["wildcards"] == "translation_mlp"]
    assert len(mlp_job) == 1 and "prepare_data" not in {s["rule"] for s in resubs}
    assert_trained_nothing(tmp_path, resubs, but=mlp_job)
    after = complete_runs(tmp_path)
    assert {k: after[k] for k in after_failure} == after_failure, "a finished run was retrained or overwritten"
    new = {k: v for k, v in after.items() if k not in after_failure}
    assert len(new) == 1 and "/mlp/seed1000-" in next(iter(new))
    assert next(iter(new.values()))["slurm_job_id"] == mlp_job[0]["slurm_id"]
    print(f"\n[slurm] with the failure {TIMINGS['slurm_with_failure']:.0f} s, SLURM jobs "
          f"{[(s['rule'], s['wildcards'], s['slurm_id']) for s in subs]}; rerun {seconds:.0f} s, SLURM jobs "
          f"{[(s['rule'], s['wildcards'], s['slurm_id']) for s in resubs]}")

    assert_same_results(tmp_path, reference)


def test_a_job_per_seed_puts_each_seed_of_an_entry_in_its_own_slurm_job(slurm_cluster, local_reference, tmp_path):
    """config/full.yaml's train_jobs=seed on SLURM: the seeds of an entry train side by side, same runs."""
    reference, _ = local_reference
    proc, seconds = on_slurm(slurm_cluster, tmp_path, "per_seed", "train_jobs=seed")
    assert proc.returncode == 0, tail(proc)
    trains = {s["wildcards"]: s["slurm_id"] for s in submissions(proc) if s["rule"] == "train"}
    runs_dir = tmp_path / "results" / "runs" / "translation"
    jobs = sorted(runs_dir.glob("*.seed*.json"))
    assert len(jobs) == len(trains) and all(".seed" in p.name for p in runs_dir.glob("*.json"))  # none per entry
    seeds = set()
    for job in jobs:
        entry, seed = job.stem.split(".seed")
        slurm_id = trains[f"translation_{entry}_{seed}"]
        for r in json.loads(job.read_text())["runs"]:
            assert r["seed"] == int(seed)
            prov = json.loads((tmp_path / r["dir"] / "provenance.json").read_text())
            assert prov["hardware"].get("slurm_job_id") == slurm_id, (job.name, r["dir"])
        seeds.add(int(seed))
    assert len(seeds) >= 2 and len(set(trains.values())) == len(trains)
    print(f"\n[slurm] a job per seed: {len(trains)} training jobs, workflow {seconds:.0f} s")

    assert run_file_hashes(tmp_path / "results", "translation") == run_file_hashes(reference / "results", "translation")
    assert_same_results(tmp_path, reference)
