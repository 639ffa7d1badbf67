"""The Markdown report's per-study lines that read the results directory."""
import json
import os

from convstudies.report import job_summaries, training_line


def write_job(path, runs, seconds, mtime):
    path.write_text(json.dumps({"runs": [{"dir": r} for r in runs], "job_seconds": seconds}))
    os.utime(path, ns=(mtime, mtime))


def test_training_line_counts_each_job_once_after_a_switch_from_a_job_per_entry_to_a_job_per_seed(tmp_path):
    write_job(tmp_path / "cnn.json", ["cnn/seed0-a", "cnn/seed1-b"], 10.0, 1_000)  # earlier, train_jobs=entry
    write_job(tmp_path / "cnn.seed0.json", ["cnn/seed0-a"], 2.0, 2_000)             # later, train_jobs=seed
    write_job(tmp_path / "cnn.seed1.json", ["cnn/seed1-b"], 3.0, 3_000)
    write_job(tmp_path / "mlp.json", ["mlp/seed0-c"], 4.0, 500)
    assert sorted(p.name for p in job_summaries(tmp_path)) == ["cnn.seed0.json", "cnn.seed1.json", "mlp.json"]
    assert training_line(tmp_path) == "Training: 3 runs in 3 jobs, 9 s of training-job wall time."
    os.utime(tmp_path / "cnn.json", ns=(4_000, 4_000))  # and back to a job per entry
    assert sorted(p.name for p in job_summaries(tmp_path)) == ["cnn.json", "mlp.json"]
    assert training_line(tmp_path) == "Training: 3 runs in 2 jobs, 14 s of training-job wall time."
