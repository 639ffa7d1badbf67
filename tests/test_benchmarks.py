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
