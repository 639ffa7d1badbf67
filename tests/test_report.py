"""The Markdown report's per-study lines that read the results directory."""
import json

import pandas as pd

from convstudies.report import training_line


def test_training_line_counts_the_runs_the_tables_read_and_the_jobs_that_listed_them(tmp_path):
    runs = tmp_path / "runs" / "toy"
    runs.mkdir(parents=True)
    (tmp_path / "tables").mkdir()
    for name, seconds in [("cnn.seed0.json", 2.0), ("cnn.seed1.json", 3.0), ("mlp.json", 4.0),
                          ("cnn.json", 10.0)]:  # cnn.json: a job per entry, from an earlier run, not read
        (runs / name).write_text(json.dumps({"runs": [], "job_seconds": seconds}))
    pd.DataFrame({"run": ["seed0-a", "seed1-b", "seed0-c", "seed1-d"],
                  "job": ["cnn.seed0.json", "cnn.seed1.json", "mlp.json", "mlp.json"]}).to_csv(
        tmp_path / "tables" / "toy_runs.csv", index=False)
    assert training_line(tmp_path, "toy") == "Training: 4 runs in 3 jobs, 9 s of training-job wall time."


def test_training_line_of_tables_without_the_job_column_counts_runs_only(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"run": ["seed0-a", "seed1-b"]}).to_csv(tmp_path / "tables" / "toy_runs.csv", index=False)
    assert training_line(tmp_path, "toy") == "Training: 2 runs."
