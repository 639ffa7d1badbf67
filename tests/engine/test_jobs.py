"""The job entry point: a batch of runs in one process, resuming without retraining."""
import json

from convstudies.cli import main


def job(tmp_path, *extra):
    return main(["train-entry", "--study", "translation", "--entry", "mlp", "--scale", "tiny", "--seeds", "0", "1",
                     "--runs-dir", str(tmp_path / "runs"), "--summary", str(tmp_path / "mlp.json"), *extra])


def test_job_trains_every_seed_then_skips_finished_runs(tmp_path, capsys):
    assert job(tmp_path) == 0
    summary = json.loads((tmp_path / "mlp.json").read_text())
    assert [r["seed"] for r in summary["runs"]] == [0, 1]
    dirs = [tmp_path / "runs" / r["point"] / r["run"] for r in summary["runs"]]
    stamps = [(d / "metrics.json").stat().st_mtime_ns for d in dirs]
    capsys.readouterr()
    assert job(tmp_path) == 0
    assert "finished earlier, kept" in capsys.readouterr().out
    assert [(d / "metrics.json").stat().st_mtime_ns for d in dirs] == stamps


def test_a_failing_run_fails_the_job_but_keeps_the_others(tmp_path):
    assert job(tmp_path, "--fail-run", "translation/mlp/seed1") == 1
    assert not (tmp_path / "mlp.json").exists()
    finished = list((tmp_path / "runs" / "mlp").glob("seed0-*/metrics.json"))
    assert len(finished) == 1 and not list((tmp_path / "runs" / "mlp").glob("seed1-*"))
    assert job(tmp_path) == 0  # after the fix only seed 1 is trained
    assert json.loads((tmp_path / "mlp.json").read_text())["runs"][1]["seed"] == 1
