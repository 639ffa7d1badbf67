"""The benchmark harnesses run (smoke runs on the CPU; their numbers are not asserted)."""
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def run(*args):
    out = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_engine_overhead_harness_prints_the_ratio():
    out = run("benchmarks/engine_overhead.py", "--model", "mlp", "--epochs", "1", "--repeats", "1")
    assert "ratio" in out and "device: CPU" in out


def test_gpu_speed_harness_smoke_run_on_synthetic_data(tmp_path):
    out = run("benchmarks/gpu_speed.py", "--tasks", "lenet5_mnist", "--synthetic", "--epochs", "1",
              "--out", str(tmp_path / "r.json"))
    import json

    r = json.loads((tmp_path / "r.json").read_text())
    assert r["device"] == "CPU" and "engine_over_plain" in r["tasks"]["lenet5_mnist"]
    assert "seconds_to_99%" in r["tasks"]["lenet5_mnist"]["engine"]
    assert "lenet5_mnist" in out


def test_seed_batch_harness_prints_the_speed_ups():
    out = run("benchmarks/seed_batch.py", "--models", "mlp", "--seeds", "2", "--epochs", "1", "--repeats", "1")
    assert "seed-batched" in out and "speed-up over separate engine" in out and "device: CPU" in out


def test_plain_reference_trains_the_study_points_in_a_plain_loop(tmp_path):
    out = run("benchmarks/plain_reference.py", "conv1d", "--seeds", "0", "--steps", "3", "--points", "cnn-datasetmnist1d",
              "--out", str(tmp_path / "r.json"))
    import json

    runs = json.loads((tmp_path / "r.json").read_text())
    assert {(r["order"], r["split"]) for r in runs} == {(o, s) for o in ("fixed", "reshuffle") for s in ("val", "test")}
    assert all(r["point"] == "cnn-datasetmnist1d" and 0 <= r["accuracy"] <= 1 for r in runs)
    assert "device: CPU" in out and "reshuffle" in out


def test_plain_reference_names_the_points_it_can_train():
    out = subprocess.run([sys.executable, "benchmarks/plain_reference.py", "lenet5", "--points", "cnn-datasetmnist1d"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "not a point of lenet5 here: cnn-datasetmnist1d; choose from lenet5, lenet5_relu_max" in out.stderr


def test_full_scale_throughput_projects_the_protocols_steps(tmp_path):
    out = run("benchmarks/full_scale_throughput.py", "--studies", "lenet5", "--batches", "1",
              "--out", str(tmp_path / "r.json"))
    import json

    r = json.loads((tmp_path / "r.json").read_text())
    rows = {row["point"]: row for row in r["points"]}
    assert set(rows) == {"lenet5", "lenet5_relu_max"} and r["device"].startswith("CPU")
    assert rows["lenet5"]["steps_per_run"] == 20 * 938  # 20 passes over 60,000 digits in batches of 64
    assert rows["lenet5"]["seconds_per_step"] > 0 and rows["lenet5"]["runs"] == 5
    assert "projected training hours" in out


def test_full_scale_step_count_follows_he_et_al():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from full_scale_throughput import SHAPES, full_run_steps

    from convstudies.config import expand_points, load_study

    points = expand_points(load_study("residual"), "full", phase="confirmation")
    n_train = SHAPES["cifar10_pixelmean"][1]
    # 64k iterations as whole epochs of ceil(50,000 / 128) = 391 steps: 164 epochs
    assert {full_run_steps(p["config"], n_train) for p in points.values()} == {164 * 391}


def test_stage_times_reads_jobs_stages_and_studies_from_a_snakemake_log(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    from stage_times import parse, summarise

    log = """[Wed Dec  2 01:40:50 2026]
localrule prepare_data:
    output: /r/data/mnist5k.pt
    jobid: 3

[Wed Dec  2 01:40:51 2026]
Finished jobid: 3 (Rule: prepare_data)

[Wed Dec  2 01:40:51 2026]
localrule train:
    input: /r/data/mnist5k.pt
    output: /r/runs/lenet5/lenet5.json
    log: /r/logs/train/lenet5/lenet5.log
    jobid: 6

[Wed Dec  2 01:40:52 2026]
rule train:
    output: /r/runs/pooling/max.json, /r/runs/pooling/max.done
    jobid: 7

[Wed Dec  2 01:41:22 2026]
Finished jobid: 6 (Rule: train)

[Wed Dec  2 01:41:32 2026]
Finished jobid: 7 (Rule: train)

[Wed Dec  2 01:41:33 2026]
localrule tables:
    jobid: 9

[Wed Dec  2 01:41:35 2026]
Finished jobid: 9 (Rule: tables)
"""
    jobs = parse(log.splitlines())
    assert [j["rule"] for j in jobs] == ["prepare_data", "train", "train", "tables"]
    r = summarise(jobs)
    assert r["wall_seconds"] == 45
    assert r["stages"]["training"]["jobs"] == 2 and r["stages"]["training"]["job_seconds"] == 31 + 40
    assert r["stages"]["data"]["job_seconds"] == 1 and r["stages"]["analysis"]["job_seconds"] == 2
    assert r["training_by_study"] == {"lenet5": 31, "pooling": 40}
