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


def test_the_job_log_names_the_device_and_shows_one_line_per_epoch(tmp_path, capsys):
    assert job(tmp_path) == 0
    out = capsys.readouterr().out
    assert "[convstudies] translation/mlp: training on CPU (no usable CUDA device" in out
    epochs = [line for line in out.splitlines() if " epoch " in line]
    for seed in (0, 1):
        mine = [line for line in epochs if line.startswith(f"[convstudies] translation/mlp/seed{seed} epoch ")]
        assert mine and mine[0].startswith(f"[convstudies] translation/mlp/seed{seed} epoch 1/")
        assert "train_loss=" in mine[0] and "val_acc=" in mine[0] and mine[0].endswith(" s)")


def test_epoch_line_prints_validation_metrics_only_when_validation_ran():
    from convstudies.engine.module import epoch_line

    assert epoch_line("s/p/seed0", {"epoch": 2, "train_loss": 0.5, "train_acc": 0.9}, 10, 1.25) == \
        "[convstudies] s/p/seed0 epoch 3/10: train_loss=0.5000 train_acc=0.9000 (1.2 s)"
